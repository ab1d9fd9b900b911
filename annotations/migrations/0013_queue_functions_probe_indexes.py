"""The queue's database functions always probe indexes, whatever the table statistics say.

A PL/pgSQL function keeps the plans of its statements for the life of the database
connection. A plan made while the labels table was nearly empty (a new deployment, a
new project's first hour, or statistics not yet refreshed) reads that table in full
for each candidate item: each claim then costs more as labels arrive, until the
connection ends or an ANALYZE invalidates the plan. Measured with 32 reviewers on a
queue of 1,000,000 items whose labels table started empty: the probe for "labeled by
this reviewer already" became a sequential scan of every label, once per candidate.

Every statement in `annotations_claim_next` and `annotations_submit_to_queue` looks up
a handful of rows by key, so neither function may plan a sequential scan: each runs
with `enable_seqscan = off` (set for the function's own statements only).
"""

from django.db import migrations

FUNCTIONS = (
    "annotations_claim_next(bigint, bigint, bigint, boolean, text, integer, timestamptz,"
    " timestamptz)",
    "annotations_submit_to_queue(bigint, bigint, bigint, bigint, text, text, bigint, boolean,"
    " jsonb, text, integer, timestamptz)",
)


def probe_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for function in FUNCTIONS:
            schema_editor.execute(f"ALTER FUNCTION {function} SET enable_seqscan = off")


def plan_by_statistics(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for function in FUNCTIONS:
            schema_editor.execute(f"ALTER FUNCTION {function} RESET enable_seqscan")


class Migration(migrations.Migration):
    dependencies = [("annotations", "0012_message_tool_calls")]

    operations = [migrations.RunPython(probe_indexes, plan_by_statistics)]
