"""Annotation queue: claim-next and submit-and-next under concurrent reviewers at 1M items.

Runs against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/feedback_bench,
created if missing). Builds once, and reuses, a project with 1,000,000 assistant answers
and a queue holding all of them. Each reviewer is a separate process (as behind
gunicorn) calling the same services as the labeling page, for a fixed time:
claim the next item, submit labels, claim the next... Prints claims per second,
p50/p99 latency of claim-next and of submit-and-next for 1, 8 and 32 reviewers, the
statements per claim, and checks that no item was over-annotated or double-claimed.

    python bench/queue.py [--items 1000000] [--seconds 15] [--reviewers 1,8,32] [--rate 1000]

Without --rate every reviewer claims again as soon as it has submitted (a closed loop:
the machine's capacity, and latencies that include waiting for a saturated CPU). With
--rate the reviewers together start cycles at that many a second, each on its own
schedule (an open loop, as a load generator at a constant rate): latencies at that
throughput. A reviewer that falls behind its schedule starts its next cycle at once,
and submit-and-next is timed from the scheduled start, so that falling behind shows
in the figures instead of lowering the load.
"""

import sys
from pathlib import Path

# This file is named queue.py: keep its folder off the path so that the standard
# library's queue module (used by multiprocessing and psycopg) is the one imported.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if entry and Path(entry).resolve() != HERE]

import argparse
import multiprocessing
import os
import random
import threading
import time

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/feedback_bench")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedback_site.settings")

BENCH_SLUG = "queue-bench"
GOOD = {"correctness": 4, "groundedness": 4, "helpfulness": 4}


def ensure_database() -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django

    django.setup()


def build(items: int):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from annotations.models import Project
    from annotations.services.projects import membership_set, project_create

    call_command("migrate", verbosity=0)
    project = Project.objects.filter(slug=BENCH_SLUG).first()
    users = []
    user_model = get_user_model()
    if project is None:
        lead, _ = user_model.objects.get_or_create(username="bench-lead")
        project, _, _ = project_create(slug=BENCH_SLUG, name="Queue bench", created_by=lead)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO annotations_conversation
                   (project_id, external_id, end_user, tags, metadata, created_at, updated_at)
                   SELECT %s, 'b-' || g, 'u-' || (g %% 1000), '[]', '{}',
                          now() - make_interval(secs => g), now()
                   FROM generate_series(1, %s) AS g""",
                [project.pk, items],
            )
            cursor.execute(
                """INSERT INTO annotations_message
                   (conversation_id, project_id, external_id, position, role, content, model,
                    prompt_name, prompt_version, contexts, usage, metadata, tool_calls,
                    tool_call_id, created_at)
                   SELECT c.id, c.project_id, 'a', 1, 'assistant', 'answer ' || c.external_id,
                          'gpt-4o-mini', 'devot-rag', '3', '[]', '{}', '{}', '[]', '',
                          c.created_at
                   FROM annotations_conversation c WHERE c.project_id = %s""",
                [project.pk],
            )
        print(f"built {items:,} answers in {time.perf_counter() - started:.0f} s", flush=True)
    for i in range(32):
        user, _ = user_model.objects.get_or_create(username=f"bench-reviewer-{i}")
        membership_set(project=project, user=user, role="reviewer")
        users.append(user.pk)
    return project, users


CLEAN_SQL = [
    """DELETE FROM annotations_annotationrevision WHERE annotation_id IN
       (SELECT id FROM annotations_annotation WHERE project_id = %(project)s)""",
    "DELETE FROM annotations_annotation WHERE project_id = %(project)s",
    """DELETE FROM annotations_claim WHERE item_id IN
       (SELECT i.id FROM annotations_queueitem i JOIN annotations_queue q
        ON q.id = i.queue_id WHERE q.project_id = %(project)s)""",
    """DELETE FROM annotations_skip WHERE item_id IN
       (SELECT i.id FROM annotations_queueitem i JOIN annotations_queue q
        ON q.id = i.queue_id WHERE q.project_id = %(project)s)""",
    """DELETE FROM annotations_queueitem WHERE queue_id IN
       (SELECT id FROM annotations_queue WHERE project_id = %(project)s)""",
    """DELETE FROM annotations_queuefrontier WHERE queue_id IN
       (SELECT id FROM annotations_queue WHERE project_id = %(project)s)""",
    """DELETE FROM annotations_queue_reviewers WHERE queue_id IN
       (SELECT id FROM annotations_queue WHERE project_id = %(project)s)""",
    "DELETE FROM annotations_queue WHERE project_id = %(project)s",
    "VACUUM ANALYZE annotations_queueitem",
    "VACUUM ANALYZE annotations_annotation",
    "VACUUM ANALYZE annotations_claim",
]
# When the server's autovacuum is off (as on some test machines), the bench stands in for
# it: every NAPTIME_SECONDS it vacuums each queue table whose dead rows exceed the
# threshold its storage parameters set (migrations 0006 and 0009), which is what
# autovacuum does with `autovacuum_naptime` at this value (the deployment notes in the
# README recommend it for busy queues).
NAPTIME_SECONDS = 2.0
VACUUMED_TABLES = ("annotations_claim", "annotations_queueitem")


def fresh_queue(project, items: int):
    from django.db import connection

    from annotations.models import Queue

    with connection.cursor() as cursor:
        # Each run starts clean: labels left by an earlier run would make every
        # reviewer walk past the answers they labeled then.
        for statement in CLEAN_SQL:
            cursor.execute(statement, {"project": project.pk})
    queue = Queue.objects.create(project=project, name=f"bench {time.time():.0f}")
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO annotations_queueitem
               (queue_id, message_id, sort_key, annotation_count, is_done, created_at)
               SELECT %s, m.id, extract(epoch FROM m.created_at)::bigint, 0, false, now()
               FROM annotations_message m WHERE m.project_id = %s AND m.role = 'assistant'
               LIMIT %s""",
            [queue.pk, project.pk, items],
        )
        cursor.execute("ANALYZE annotations_queueitem")
    return queue


def reviewer_cycles(
    queue_id, user_id, seconds, start_at, interval, together, end_request, sleep
) -> dict:
    """One reviewer's loop: claim, then submit and claim the next, for `seconds`.

    `together`: each submission is the labeling page's, which leases the next item in the
    same statement; otherwise the submission and the claim are two calls (as an API
    client or the next-item page makes them), and the claim is timed on its own.
    `end_request` runs where a web request would end (after each claim); `sleep` is
    time.sleep, or gevent's in a worker of greenlets."""
    from django.contrib.auth import get_user_model

    from annotations.models import Queue
    from annotations.services.annotations import (
        annotation_submit,
        annotation_submit_and_claim_next,
    )
    from annotations.services.queues import queue_claim_next

    queue = Queue.objects.get(pk=queue_id)
    reviewer = get_user_model().objects.get(pk=user_id)
    end_request()
    claims: list[float] = []
    cycles: list[float] = []
    handed: list[int] = []
    while time.time() < start_at:
        sleep(0.01)
    stop_at = time.monotonic() + seconds
    started = time.perf_counter()
    item = queue_claim_next(queue=queue, reviewer=reviewer)
    claims.append(time.perf_counter() - started)
    end_request()
    # Paced: cycles scheduled every `interval` seconds from a random phase, so that the
    # reviewers' schedules interleave.
    scheduled = time.perf_counter() + random.random() * interval if interval else None
    while item is not None and time.monotonic() < stop_at:
        handed.append(item.pk)
        if scheduled is not None:
            wait = scheduled - time.perf_counter()
            if wait > 0:
                sleep(wait)
            started = scheduled
            scheduled += interval
        else:
            started = time.perf_counter()
        if together:
            _, _, item = annotation_submit_and_claim_next(
                item=item, reviewer=reviewer, answers=GOOD
            )
            done = time.perf_counter()
        else:
            annotation_submit(
                message=item.message, reviewer=reviewer, answers=GOOD, queue_item_id=item.pk
            )
            claim_started = time.perf_counter()
            item = queue_claim_next(queue=queue, reviewer=reviewer)
            done = time.perf_counter()
            claims.append(done - claim_started)
        end_request()
        cycles.append(done - started)
    # Items leased: those labeled, and the one in hand when the time was up.
    leased = len(handed) + (item is not None)
    return {"claims": claims, "cycles": cycles, "handed": handed, "leased": leased}


def reviewer_loop(args: tuple) -> dict:
    """A reviewer in a process of its own, keeping its database connection."""
    setup_django()
    return reviewer_cycles(*args, end_request=lambda: None, sleep=time.sleep)


def worker_loop(args: tuple) -> list[dict]:
    """A gunicorn gevent worker as gunicorn.conf.py runs it: the standard library patched
    for greenlets, each reviewer a greenlet, the settings' pool of database connections
    (8 a process) shared by all, a connection taken for each request (submit and claim
    the next) and given back when it ends."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    setup_django()
    from django.db import connection

    queue_id, user_ids, seconds, start_at, interval, together = args
    greenlets = [
        gevent.spawn(
            reviewer_cycles,
            queue_id,
            user_id,
            seconds,
            start_at,
            interval,
            together,
            # Looked up when called: each greenlet has a connection of its own.
            end_request=lambda: connection.close(),
            sleep=gevent.sleep,
        )
        for user_id in user_ids
    ]
    gevent.joinall(greenlets, raise_error=True)
    return [greenlet.value for greenlet in greenlets]


def autovacuum_stand_in(stop: threading.Event, vacuums: dict[str, int]) -> None:
    """Vacuum the queue tables as autovacuum would, until told to stop, if the server's
    own autovacuum is off: production servers keep it on, and without it the dead rows
    of the run pile up in every claim (leases, and items done since the last vacuum
    that the scan for the next open item walks past)."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        if conn.execute("SHOW autovacuum").fetchone()[0] == "on":
            return
        while not stop.wait(NAPTIME_SECONDS):
            due = conn.execute(
                """SELECT c.relname FROM pg_class c
                   JOIN pg_stat_user_tables s ON s.relid = c.oid
                   CROSS JOIN LATERAL pg_options_to_table(c.reloptions) o
                   WHERE c.relname = ANY(%s) AND o.option_name = 'autovacuum_vacuum_threshold'
                     AND s.n_dead_tup > o.option_value::bigint""",
                [list(VACUUMED_TABLES)],
            ).fetchall()
            for (table,) in due:
                conn.execute(f"VACUUM {table}")
                vacuums[table] = vacuums.get(table, 0) + 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


def statements_per_claim(queue, user_id: int) -> int:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotations.services.queues import claim_release, queue_claim_next

    reviewer = get_user_model().objects.get(pk=user_id)
    with CaptureQueriesContext(connection) as captured:
        item = queue_claim_next(queue=queue, reviewer=reviewer)
    claim_release(item=item, reviewer=reviewer)
    return len(captured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--reviewers", default="1,8,32")
    parser.add_argument(
        "--rate",
        type=float,
        help="cycles a second started by all reviewers together (open loop); default: "
        "each reviewer as fast as it can (closed loop)",
    )
    parser.add_argument(
        "--flows",
        default="together,apart",
        help="together: each submission is the labeling page's, which leases the next item "
        "in the same statement; apart: a submission, then a claim of its own (as an API "
        "client or the next-item page makes them), timed on its own",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="serve the reviewers from this many gevent worker processes, as gunicorn.conf.py "
        "runs the site (a pool of database connections each); default: a process per reviewer",
    )
    args = parser.parse_args()
    ensure_database()
    setup_django()
    from django.db import connection

    from annotations.models import Annotation, Claim, QueueItem
    from bench._machine import machine_summary

    project, users = build(args.items)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
    print(f"machine: {machine_summary(pg_version)}")
    if autovacuum != "on":
        print(
            f"server autovacuum is off: during each run the bench checks the queue tables "
            f"every {NAPTIME_SECONDS:g} s and vacuums those past their autovacuum threshold"
        )
    if max(int(count) for count in args.reviewers.split(",")) > len(users):
        parser.error(f"at most {len(users)} reviewers")
    runs = [
        (int(count), flow) for count in args.reviewers.split(",") for flow in args.flows.split(",")
    ]
    for count, flow in runs:
        together = flow == "together"
        queue = fresh_queue(project, args.items)
        total = QueueItem.objects.filter(queue=queue).count()
        statements = statements_per_claim(queue, users[0])
        connection.close()
        start_at = time.time() + 3
        interval = count / args.rate if args.rate else 0.0
        stop = threading.Event()
        vacuums: dict[str, int] = {}
        vacuum = threading.Thread(target=autovacuum_stand_in, args=(stop, vacuums), daemon=True)
        vacuum.start()
        if args.workers:
            processes = min(args.workers, count)
            with multiprocessing.get_context("spawn").Pool(processes) as pool:
                per_worker = pool.map(
                    worker_loop,
                    [
                        (
                            queue.pk,
                            users[w:count:processes],
                            args.seconds,
                            start_at,
                            interval,
                            together,
                        )
                        for w in range(processes)
                    ],
                )
            results = [result for worker in per_worker for result in worker]
        else:
            with multiprocessing.get_context("spawn").Pool(count) as pool:
                results = pool.map(
                    reviewer_loop,
                    [
                        (queue.pk, users[i], args.seconds, start_at, interval, together)
                        for i in range(count)
                    ],
                )
        stop.set()
        vacuum.join()
        claims = [value for result in results for value in result["claims"]]
        cycles = [value for result in results for value in result["cycles"]]
        handed = [pk for result in results for pk in result["handed"]]
        over = QueueItem.objects.filter(queue=queue, annotation_count__gt=1).count()
        double = len(handed) - len(set(handed))
        rows = Annotation.objects.filter(queue_item__queue=queue).count()
        Claim.objects.filter(item__queue=queue).delete()
        load = f" at {args.rate:,.0f} cycles/s offered" if args.rate else ""
        served = (
            f" in {min(args.workers, count)} gevent workers"
            if args.workers
            else " in own processes"
        )
        claimed = sum(result["leased"] for result in results)
        timed = (
            "submit-and-next in one statement"
            if together
            else f"claim-next p50 {percentile(claims, 0.5):.1f} ms p99 {percentile(claims, 0.99):.1f} ms; "
            "submit-and-next as two calls"
        )
        print(
            f"{count:>2} reviewers{served}{load}, queue of {total:,} items: "
            f"{claimed / args.seconds:,.0f} claims/s; {timed} "
            f"p50 {percentile(cycles, 0.5):.1f} ms p99 {percentile(cycles, 0.99):.1f} ms; "
            f"{statements} statements per claim; {rows:,} annotations; "
            f"double claims {double}, over-annotated items {over}"
            + (
                "; vacuums " + ", ".join(f"{t} {n}" for t, n in sorted(vacuums.items()))
                if vacuums
                else ""
            ),
            flush=True,
        )
        if double or over:
            raise SystemExit("invariant broken")


if __name__ == "__main__":
    main()
