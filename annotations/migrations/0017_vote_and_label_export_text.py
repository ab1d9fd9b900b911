"""Each vote as the raw export writes it, and the end of each label's, kept by PostgreSQL.

Stored generated columns, which PostgreSQL writes whenever a row is inserted or
changed (a replaced vote, an edited label), so they cannot fall behind the row:

- `annotations_feedback.export_vote`: the vote's JSON object in a raw row's `votes`
  (user, rating, reasons, comment, source, created_at; exports.rows.raw_row);
- `annotations_annotation.export_tail`: the end of the label's JSON object in a raw
  row's `annotations`, from `corrected_answer` on. What comes before it (the rubric's
  version, from another table, and the answers, which Parquet holds as JSON text) is
  written by the export.

The raw export's page statement (exports.sql_rows) copies them instead of writing
each field as JSON for every vote and label of every export, which took about a
tenth of the database's time a raw row. As with `export_contexts` (0016), the models
do not declare the columns: Django names its columns in every statement it writes.

The functions are declared IMMUTABLE, which a generated column requires: they are,
for the types they convert, with the time zone fixed to UTC (Django's connections
use UTC; the export writes times as `2026-11-26T09:30:00.123456+00:00`). Adding the
columns rewrites both tables once, under an exclusive lock.
"""

from django.db import migrations

# A vote's reasons as compact JSON, as exports.sql_rows._compact_list writes a list.
VOTE_FUNCTION = r"""
CREATE FUNCTION export_vote_json(
    p_end_user text, p_rating text, p_reasons jsonb, p_comment text, p_source text,
    p_created_at timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET TimeZone = 'UTC' AS $function$
SELECT '{"user":' || to_json(COALESCE(p_end_user, ''))
    || ',"rating":' || to_json(COALESCE(p_rating, ''))
    || ',"reasons":' || CASE
        WHEN COALESCE(jsonb_typeof(p_reasons), '') <> 'array' THEN '[]'
        -- Items that are no string, `, ` and strings ending in `", ` (written `", "`
        -- and `\", "`, which would read as a separator) are written one by one.
        WHEN NOT jsonb_path_exists(
            p_reasons, 'strict $[*] ? (@.type() != "string" || @ like_regex "(^, |\", )$")')
        THEN replace(p_reasons::text, '", "', '","')
        ELSE (SELECT '[' || string_agg(CASE WHEN jsonb_typeof(e.item) = 'string'
                                            THEN e.item::text
                                            ELSE to_json(e.item::text)::text END,
                                       ',' ORDER BY e.n) || ']'
              FROM jsonb_array_elements(p_reasons) WITH ORDINALITY AS e(item, n)) END
    || ',"comment":' || to_json(COALESCE(p_comment, ''))
    || ',"source":' || to_json(COALESCE(p_source, ''))
    || ',"created_at":' || COALESCE(to_json(p_created_at)::text, 'null')
    || '}'
$function$
"""

LABEL_FUNCTION = r"""
CREATE FUNCTION export_label_tail(
    p_corrected_answer text, p_created_at timestamptz, p_updated_at timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET TimeZone = 'UTC' AS $function$
SELECT ',"corrected_answer":' || to_json(COALESCE(p_corrected_answer, ''))
    || ',"created_at":' || COALESCE(to_json(p_created_at)::text, 'null')
    || ',"updated_at":' || COALESCE(to_json(p_updated_at)::text, 'null')
    || '}'
$function$
"""

COLUMNS = [
    """ALTER TABLE annotations_feedback ADD COLUMN export_vote text NOT NULL
        GENERATED ALWAYS AS (
            export_vote_json(end_user, rating, reasons, comment, source, created_at)
        ) STORED""",
    """ALTER TABLE annotations_annotation ADD COLUMN export_tail text NOT NULL
        GENERATED ALWAYS AS (
            export_label_tail(corrected_answer, created_at, updated_at)
        ) STORED""",
]


def add_export_text(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(VOTE_FUNCTION)
        schema_editor.execute(LABEL_FUNCTION)
        for statement in COLUMNS:
            schema_editor.execute(statement)


def drop_export_text(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE annotations_feedback DROP COLUMN export_vote")
        schema_editor.execute("ALTER TABLE annotations_annotation DROP COLUMN export_tail")
        schema_editor.execute(
            "DROP FUNCTION export_vote_json(text, text, jsonb, text, text, timestamptz)"
        )
        schema_editor.execute("DROP FUNCTION export_label_tail(text, timestamptz, timestamptz)")


class Migration(migrations.Migration):
    dependencies = [("annotations", "0016_message_export_contexts")]

    operations = [migrations.RunPython(add_export_text, drop_export_text)]
