"""Leases churn: every claim inserts a row and every submission deletes it, so the
table holds a handful of live rows and, without vacuum, thousands of dead ones that
each lookup of a reviewer's lease walks past. PostgreSQL's default (vacuum after 20%
of the table changed) never fits a table that is almost always empty: vacuum it after
a fixed number of changes instead."""

from django.db import migrations

CLAIM_TABLE = "annotations_claim"


def vacuum_often(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {CLAIM_TABLE} SET (autovacuum_vacuum_scale_factor = 0,"
            " autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0,"
            " autovacuum_analyze_threshold = 1000)"
        )


def vacuum_as_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {CLAIM_TABLE} RESET (autovacuum_vacuum_scale_factor,"
            " autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor,"
            " autovacuum_analyze_threshold)"
        )


class Migration(migrations.Migration):
    dependencies = [("annotations", "0005_annotation_annotator_index")]

    operations = [migrations.RunPython(vacuum_often, vacuum_as_default)]
