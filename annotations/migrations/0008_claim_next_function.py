"""Claim-next on PostgreSQL as one database function: one round trip per claim.

The function runs what used to be two statements in a transaction of their own: the
first checks access, renews a lease the reviewer already holds or locks the first open
candidate (FOR UPDATE SKIP LOCKED); the second writes the lease after counting the free
slots again. A PL/pgSQL function is VOLATILE, so each statement in it takes a fresh
snapshot: a lease committed by another reviewer while the first statement ran is seen
by the second, exactly as between two statements of a transaction; and the candidate
stays locked until the calling statement's transaction ends.

It returns one row (claim_status, claimed_item). claim_status is
- "forbidden": the queue is assigned to other reviewers;
- "held": the reviewer's own unexpired lease on the item, renewed;
- "leased": a new lease on the item;
- "locked": no candidate now, but some are locked by other reviewers' claims or
  submissions for a few milliseconds: look again shortly;
- "empty": nothing is left for this reviewer.

The NOT EXISTS lookups end in OFFSET 0 so that they stay per-candidate probes of the
(annotator, message) and (item, reviewer) indexes: as anti-joins, the planner may read
every label the reviewer ever made once per claim, a cost that grows with their work.
"""

from django.db import migrations

CANDIDATE_WHERE = """
    i.queue_id = p_queue AND NOT i.is_done AND NOT (i.id = ANY(passed))
    AND NOT EXISTS (
        SELECT 1 FROM annotations_annotation a
        WHERE a.message_id = i.message_id AND a.annotator_key = p_annotator_key OFFSET 0)
    AND NOT EXISTS (
        SELECT 1 FROM annotations_skip s
        WHERE s.item_id = i.id AND s.reviewer_id = p_reviewer OFFSET 0)
    AND i.annotation_count + (
        SELECT count(*) FROM annotations_claim c
        WHERE c.item_id = i.id AND c.expires_at > p_now AND c.reviewer_id <> p_reviewer
    ) < p_per_item
"""

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION annotations_claim_next(
    p_queue bigint, p_project bigint, p_reviewer bigint, p_superuser boolean,
    p_annotator_key text, p_per_item integer, p_now timestamptz, p_expires timestamptz,
    OUT claim_status text, OUT claimed_item bigint)
LANGUAGE plpgsql VOLATILE AS $function$
DECLARE
    passed bigint[] := '{{}}';
    allowed boolean;
    renewed boolean;
    found_id bigint;
BEGIN
    FOR attempt IN 1..20 LOOP
        WITH access AS (
            SELECT NOT EXISTS (
                    SELECT 1 FROM annotations_queue_reviewers r WHERE r.queue_id = p_queue)
                OR EXISTS (
                    SELECT 1 FROM annotations_queue_reviewers r
                    WHERE r.queue_id = p_queue AND r.user_id = p_reviewer)
                OR p_superuser
                OR EXISTS (
                    SELECT 1 FROM annotations_membership m
                    WHERE m.project_id = p_project AND m.user_id = p_reviewer
                      AND m.role = 'admin')
                AS ok
        ), held AS (
            UPDATE annotations_claim c SET expires_at = p_expires
            FROM annotations_queueitem i
            WHERE (SELECT ok FROM access) AND c.item_id = i.id AND i.queue_id = p_queue
              AND c.reviewer_id = p_reviewer AND c.expires_at > p_now AND NOT i.is_done
            RETURNING c.item_id
        ), candidate AS (
            SELECT i.id FROM annotations_queueitem i
            WHERE (SELECT ok FROM access) AND NOT EXISTS (SELECT 1 FROM held)
              AND {CANDIDATE_WHERE}
            ORDER BY i.sort_key, i.id
            LIMIT 1
            FOR UPDATE OF i SKIP LOCKED
        )
        SELECT access.ok, EXISTS (SELECT 1 FROM held),
            COALESCE((SELECT min(h.item_id) FROM held h), (SELECT c.id FROM candidate c))
        INTO allowed, renewed, found_id
        FROM access;

        IF NOT allowed THEN
            claim_status := 'forbidden';
            RETURN;
        END IF;
        IF found_id IS NULL THEN
            -- Candidates skipped because other reviewers hold them for a moment are
            -- not "nothing left".
            IF EXISTS (SELECT 1 FROM annotations_queueitem i WHERE {CANDIDATE_WHERE}) THEN
                claim_status := 'locked';
            ELSE
                claim_status := 'empty';
            END IF;
            RETURN;
        END IF;
        IF renewed THEN
            claim_status := 'held';
            claimed_item := found_id;
            RETURN;
        END IF;

        -- A fresh snapshot: count the slots taken again now that the item is locked.
        INSERT INTO annotations_claim (item_id, reviewer_id, created_at, expires_at)
        SELECT found_id, p_reviewer, p_now, p_expires
        WHERE (SELECT annotation_count FROM annotations_queueitem WHERE id = found_id) + (
            SELECT count(*) FROM annotations_claim c
            WHERE c.item_id = found_id AND c.expires_at > p_now AND c.reviewer_id <> p_reviewer
        ) < p_per_item
        ON CONFLICT ON CONSTRAINT claim_one_per_reviewer
        DO UPDATE SET created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
        RETURNING annotations_claim.item_id INTO claimed_item;
        IF claimed_item IS NOT NULL THEN
            claim_status := 'leased';
            RETURN;
        END IF;
        -- The last slot went to another reviewer meanwhile: try the next candidate.
        passed := passed || found_id;
    END LOOP;
    claim_status := 'empty';
END
$function$
"""

DROP_FUNCTION = """
DROP FUNCTION IF EXISTS annotations_claim_next(
    bigint, bigint, bigint, boolean, text, integer, timestamptz, timestamptz)
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_FUNCTION)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0007_redundant_foreign_key_indexes")]

    operations = [migrations.RunPython(create_function, drop_function)]
