"""Each message's retrieved contexts as the raw export writes them, kept by PostgreSQL.

`annotations_message.export_contexts` is a stored generated column: PostgreSQL writes
it whenever a message is inserted or its contexts change, so it cannot fall behind
them. It holds the JSON list that exports.rows._contexts builds from the stored
contexts (each object with id, title and url as text or null, text as text, score as
a float or null, in that order; what is not an object left out), which the raw
export's page statement (exports.sql_rows) copies instead of taking the jsonb apart
for every answer of every export. Building it there cost about a fifth of the
database's time a raw row.

The model does not declare the column (the export reads it with SQL, and SQLite has
no such function): Django names its columns in every statement it writes, and so
does the ingestion's COPY.

`export_contexts_json` is declared IMMUTABLE, which a generated column requires: it
is, for the types it converts (text, and float8 with extra_float_digits fixed to 1, the
default, which writes the shortest text that reads back as the same float, as Python
does).
Adding the column rewrites the messages table once, under an exclusive lock (about
15 seconds a million messages, a quarter of them answers with contexts, on a
two-core machine).
"""

from django.db import migrations

FUNCTION = r"""
CREATE FUNCTION export_contexts_json(contexts jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET extra_float_digits = 1 AS $function$
DECLARE
    parts text[] := '{}';
    context jsonb;
    number numeric;
    score text;
BEGIN
    IF jsonb_typeof(contexts) IS DISTINCT FROM 'array' THEN
        RETURN '[]';
    END IF;
    FOR context IN SELECT jsonb_array_elements(contexts) LOOP
        CONTINUE WHEN jsonb_typeof(context) <> 'object';
        score := NULL;
        IF jsonb_typeof(context->'score') = 'number' THEN
            number := (context->'score')::numeric;
            -- Beyond a float's range (only SQL could store such a number) no score,
            -- rather than an insert that fails, as exports.rows._score reads it; a
            -- number nearer zero than the smallest float, 0.0. The bounds are the
            -- halfway points past which a float rounds to infinity or to zero.
            score := CASE WHEN abs(number) >= 1.797693134862315807937289714053034150799e308
                          THEN NULL
                          WHEN abs(number) <= 2.4703282292062327208828439643e-324
                          THEN '0'
                          ELSE number::float8::text END;
        END IF;
        parts := parts || (
            '{"id":' || COALESCE(to_json(context->>'id')::text, 'null')
            || ',"title":' || COALESCE(to_json(context->>'title')::text, 'null')
            || ',"url":' || COALESCE(to_json(context->>'url')::text, 'null')
            || ',"text":' || to_json(COALESCE(context->>'text', ''))
            -- A float as Python writes it: 1.0, not 1.
            || ',"score":' || CASE WHEN score IS NULL THEN 'null'
                                   WHEN strpos(score, '.') + strpos(score, 'e') = 0
                                   THEN score || '.0' ELSE score END
            || '}');
    END LOOP;
    RETURN '[' || array_to_string(parts, ',') || ']';
END
$function$
"""

# Most messages (system prompts, user turns) have no contexts: no function call.
COLUMN = """
ALTER TABLE annotations_message ADD COLUMN export_contexts text NOT NULL
    GENERATED ALWAYS AS (
        CASE WHEN contexts = '[]'::jsonb THEN '[]' ELSE export_contexts_json(contexts) END
    ) STORED
"""


def add_export_contexts(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)
        schema_editor.execute(COLUMN)


def drop_export_contexts(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE annotations_message DROP COLUMN export_contexts")
        schema_editor.execute("DROP FUNCTION export_contexts_json(jsonb)")


class Migration(migrations.Migration):
    dependencies = [("annotations", "0015_string_list_validators")]

    operations = [migrations.RunPython(add_export_contexts, drop_export_contexts)]
