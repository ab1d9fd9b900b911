"""Queue slots: counted after the item is locked, and never beyond the item's count.

A submission to a queue item was one statement that locked the item and counted the
other reviewers' leases in the same snapshot. A lease committed while the submission
waited for the lock (another reviewer claiming the last slot at that moment) was not
seen, so a reviewer without a lease (it had expired) could take the slot leased to
the other, who then filled it again: two annotations on an item that wanted one.
And a reviewer holding a lease could fill an item already complete (its count lowered
meanwhile, or taken by such a late submission).

The submission is now the function `annotations_submit_to_queue`: its first statement
locks the item; the next, in a fresh snapshot (each statement of a PL/pgSQL function
takes its own), counts the leases and looks for the reviewer's labels; a slot is free
only while the item's count (read under the lock) is below what it wants, and, for a
reviewer without a lease, while the others' leases leave room. It is still one round
trip and returns what the statement did: (slot_message, slot_labeled, rubric_current,
has_room, annotation_id), no row for an unknown item.

`annotations_claim_next` now first drops the reviewer's leases in the queue on answers
they have labeled since (in another queue holding the same answer, or by editing their
labels): such a lease used to be handed back on every claim, the same item forever,
holding a slot no one else could take.
"""

import importlib

from django.db import migrations

CLAIM_0008 = importlib.import_module("annotations.migrations.0008_claim_next_function")

# The claim function of migration 0008, with one statement first: drop the reviewer's
# leases in the queue on answers they have labeled (OFFSET 0 keeps the label lookup a
# probe per lease, as in 0008, not a read of all the reviewer's labels).
CLAIM_LOOP = "BEGIN\n    FOR attempt IN 1..20 LOOP"
assert CLAIM_LOOP in CLAIM_0008.CREATE_FUNCTION
CLAIM_FUNCTION = CLAIM_0008.CREATE_FUNCTION.replace(
    CLAIM_LOOP,
    """BEGIN
    DELETE FROM annotations_claim c USING annotations_queueitem i
    WHERE c.reviewer_id = p_reviewer AND c.item_id = i.id AND i.queue_id = p_queue
      AND EXISTS (
        SELECT 1 FROM annotations_annotation a
        WHERE a.message_id = i.message_id AND a.annotator_key = p_annotator_key OFFSET 0);
    FOR attempt IN 1..20 LOOP""",
)

SUBMIT_FUNCTION = """
CREATE OR REPLACE FUNCTION annotations_submit_to_queue(
    p_item bigint, p_message bigint, p_project bigint, p_reviewer bigint,
    p_annotator_key text, p_annotator_name text, p_rubric bigint, p_check_rubric boolean,
    p_answers jsonb, p_corrected text, p_time_spent integer, p_now timestamptz)
RETURNS TABLE (slot_message bigint, slot_labeled boolean, rubric_current boolean,
               has_room boolean, annotation_id bigint)
LANGUAGE plpgsql VOLATILE AS $function$
DECLARE
    v_count integer;
    v_per_item integer;
    v_holds boolean;
    v_others bigint;
BEGIN
    SELECT i.message_id, i.annotation_count, q.annotations_per_item
    INTO slot_message, v_count, v_per_item
    FROM annotations_queueitem i JOIN annotations_queue q ON q.id = i.queue_id
    WHERE i.id = p_item
    FOR UPDATE OF i;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A fresh snapshot: leases and labels committed while this waited for the lock.
    SELECT
        EXISTS (SELECT 1 FROM annotations_claim c
                WHERE c.item_id = p_item AND c.reviewer_id = p_reviewer
                  AND c.expires_at > p_now),
        (SELECT count(*) FROM annotations_claim c
         WHERE c.item_id = p_item AND c.expires_at > p_now AND c.reviewer_id <> p_reviewer),
        EXISTS (SELECT 1 FROM annotations_annotation a
                WHERE a.message_id = slot_message AND a.annotator_key = p_annotator_key),
        NOT p_check_rubric OR EXISTS (
            SELECT 1 FROM annotations_rubric r
            WHERE r.id = p_rubric AND r.project_id = p_project AND r.is_active)
    INTO v_holds, v_others, slot_labeled, rubric_current;
    has_room := v_count < v_per_item AND (v_holds OR v_per_item - v_count - v_others > 0);
    IF slot_message = p_message AND NOT slot_labeled AND rubric_current AND has_room THEN
        INSERT INTO annotations_annotation
            (project_id, message_id, rubric_id, annotator_id, annotator_key, annotator_name,
             source, queue_item_id, answers, corrected_answer, time_spent_ms, created_at,
             updated_at)
        VALUES (p_project, p_message, p_rubric, p_reviewer, p_annotator_key, p_annotator_name,
                'human', p_item, p_answers, p_corrected, p_time_spent, p_now, p_now)
        ON CONFLICT ON CONSTRAINT annotation_one_per_annotator DO NOTHING
        RETURNING id INTO annotation_id;
        IF annotation_id IS NOT NULL THEN
            UPDATE annotations_queueitem
            SET annotation_count = v_count + 1, is_done = v_count + 1 >= v_per_item
            WHERE id = p_item;
            DELETE FROM annotations_claim WHERE item_id = p_item AND reviewer_id = p_reviewer;
        END IF;
    END IF;
    RETURN NEXT;
END
$function$
"""

DROP_SUBMIT_FUNCTION = """
DROP FUNCTION IF EXISTS annotations_submit_to_queue(
    bigint, bigint, bigint, bigint, text, text, bigint, boolean, jsonb, text, integer,
    timestamptz)
"""


def create_functions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CLAIM_FUNCTION)
        schema_editor.execute(SUBMIT_FUNCTION)


def restore_functions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SUBMIT_FUNCTION)
        schema_editor.execute(CLAIM_0008.CREATE_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0010_allowed_origins_as_browsers_send_them")]

    operations = [migrations.RunPython(create_functions, restore_functions)]
