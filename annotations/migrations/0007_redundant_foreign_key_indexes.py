"""Five foreign keys lose their own index: each is the first column of a composite index
or unique constraint that serves the same lookups, and every index is one more write on
the hot paths (claims, submissions).

Only the indexes are dropped. Changing db_index through AlterField would also drop and
re-add each foreign-key constraint, and re-adding one checks every row of the table under
a lock that blocks writes: minutes on a large deployment, for no change in the data.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (model, field, target, related name, table, column, index name as Django made it)
FOREIGN_KEYS = [
    (
        "annotation",
        "message",
        "annotations.message",
        "annotations",
        "annotations_annotation",
        "message_id",
        "annotations_annotation_message_id_2699bb11",
    ),
    (
        "annotation",
        "project",
        "annotations.project",
        "annotations",
        "annotations_annotation",
        "project_id",
        "annotations_annotation_project_id_9c63b7ba",
    ),
    (
        "claim",
        "item",
        "annotations.queueitem",
        "claims",
        "annotations_claim",
        "item_id",
        "annotations_claim_item_id_1c34bf3b",
    ),
    (
        "claim",
        "reviewer",
        settings.AUTH_USER_MODEL,
        "claims",
        "annotations_claim",
        "reviewer_id",
        "annotations_claim_reviewer_id_8afbd552",
    ),
    (
        "queueitem",
        "queue",
        "annotations.queue",
        "items",
        "annotations_queueitem",
        "queue_id",
        "annotations_queueitem_queue_id_359a4068",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0006_claim_autovacuum"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name=model,
                    name=field,
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name=related_name,
                        to=target,
                    ),
                )
                for model, field, target, related_name, _, _, _ in FOREIGN_KEYS
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {index}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({column})",
                )
                for _, _, _, _, table, column, index in FOREIGN_KEYS
            ],
        ),
    ]
