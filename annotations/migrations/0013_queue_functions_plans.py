"""The queue's database functions keep one plan per statement, and it probes indexes;
a claim passes over the reviewer's own leases that another of their requests holds.

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

And each keeps one plan per statement: with the default `plan_cache_mode`, PostgreSQL
planned the claim's statements again on every call (the generic plan's estimate, with
the lease times unknown, looked dearer than a plan for the given values), and planning
took about a quarter of the database's time per claim. The plans are the same index
probes whatever the values, so both functions use `force_generic_plan`. Measured with
32 reviewers on two cores: 1,073-1,164 submit-and-next cycles a second before,
1,427 after.
"""

import importlib

from django.db import migrations

CLAIM_0011 = importlib.import_module(
    "annotations.migrations.0011_queue_slots_counted_after_the_lock"
)

# The claim's renewal of the reviewer's own lease passes over leases that another of
# the reviewer's requests holds locked (a submission in another tab deleting its lease,
# in the transaction that also claims that tab's next item): waiting for it there could
# close a cycle of waits between the two requests, a deadlock that rolls back labels.
HELD_0008 = """UPDATE annotations_claim c SET expires_at = p_expires
            FROM annotations_queueitem i
            WHERE (SELECT ok FROM access) AND c.item_id = i.id AND i.queue_id = p_queue
              AND c.reviewer_id = p_reviewer AND c.expires_at > p_now AND NOT i.is_done
            RETURNING c.item_id"""
HELD = """UPDATE annotations_claim c SET expires_at = p_expires
            WHERE c.id IN (
                SELECT own.id FROM annotations_claim own
                JOIN annotations_queueitem i ON i.id = own.item_id
                WHERE (SELECT ok FROM access) AND i.queue_id = p_queue
                  AND own.reviewer_id = p_reviewer AND own.expires_at > p_now
                  AND NOT i.is_done
                FOR UPDATE OF own SKIP LOCKED)
            RETURNING c.item_id"""
assert HELD_0008 in CLAIM_0011.CLAIM_FUNCTION
CLAIM_FUNCTION = CLAIM_0011.CLAIM_FUNCTION.replace(HELD_0008, HELD)

FUNCTIONS = (
    "annotations_claim_next(bigint, bigint, bigint, boolean, text, integer, timestamptz,"
    " timestamptz)",
    "annotations_submit_to_queue(bigint, bigint, bigint, bigint, text, text, bigint, boolean,"
    " jsonb, text, integer, timestamptz)",
)


SETTINGS = {"enable_seqscan": "off", "plan_cache_mode": "force_generic_plan"}


def probe_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # CREATE OR REPLACE drops a function's settings: a later migration that
        # redefines either function must set them again.
        schema_editor.execute(CLAIM_FUNCTION)
        for function in FUNCTIONS:
            for name, value in SETTINGS.items():
                schema_editor.execute(f"ALTER FUNCTION {function} SET {name} = {value}")


def plan_by_statistics(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CLAIM_0011.CLAIM_FUNCTION)
        for function in FUNCTIONS:
            for name in SETTINGS:
                schema_editor.execute(f"ALTER FUNCTION {function} RESET {name}")


class Migration(migrations.Migration):
    dependencies = [("annotations", "0012_message_tool_calls")]

    operations = [migrations.RunPython(probe_indexes, plan_by_statistics)]
