"""Dataset export: rows per second and peak resident memory for each format and size.

Runs against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/feedback_bench,
created if missing). Builds once, and extends when asked for more, a project whose
assistant answers are all labeled: each conversation has a system prompt, a user
turn (Korean and English) and an answer with two retrieved contexts, one end-user
vote and one reviewer annotation. Each measurement runs `dataset_export` (the code
behind the command and the job) in a fresh process, which reports its wall time and
its peak RSS (getrusage), so runs do not share memory.

    python bench/export.py [--rows 1000000] [--sizes 100000,1000000] [--kind raw]
                           [--formats jsonl,csv,parquet]

Without --sizes the sizes are a tenth of --rows and --rows itself.
"""

import sys
from pathlib import Path

# This folder holds queue.py: keep it off the path so that the standard library's
# queue module (used by psycopg) is the one imported.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if entry and Path(entry).resolve() != HERE]

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/feedback_bench")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedback_site.settings")

BENCH_SLUG = "export-bench"
BATCH = 100_000


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


def build(rows: int) -> None:
    """Grow the bench project to `rows` labeled answers (in batches of generate_series)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from annotations.models import Message, Project, Rubric
    from annotations.services.projects import project_create

    call_command("migrate", verbosity=0)
    project = Project.objects.filter(slug=BENCH_SLUG).first()
    reviewer, _ = get_user_model().objects.get_or_create(username="bench-reviewer")
    if project is None:
        project, _, _ = project_create(slug=BENCH_SLUG, name="Export bench", created_by=reviewer)
    rubric = Rubric.objects.get(project=project, is_active=True)
    have = Message.objects.filter(project=project, role="assistant").count()
    if have >= rows:
        return
    started = time.perf_counter()
    for low in range(have + 1, rows + 1, BATCH):
        high = min(rows, low + BATCH - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO annotations_conversation
                   (project_id, external_id, end_user, tags, metadata, created_at, updated_at)
                   SELECT %s, 'e-' || g, 'u-' || (g %% 5000), '["bench"]', '{}',
                          now() - make_interval(secs => g), now()
                   FROM generate_series(%s, %s) AS g""",
                [project.pk, low, high],
            )
            batch = """c.project_id = %s
                     AND c.external_id IN (SELECT 'e-' || g FROM generate_series(%s, %s) AS g)"""
            cursor.execute(
                f"""INSERT INTO annotations_message
                   (conversation_id, project_id, external_id, position, role, content, model,
                    prompt_name, prompt_version, contexts, usage, metadata, tool_calls,
                    tool_call_id, created_at)
                   SELECT c.id, c.project_id, m.external_id, m.position, m.role,
                          CASE m.role
                            WHEN 'system' THEN 'You are Devot, a helpful assistant.'
                            WHEN 'user' THEN 'Celery 워커가 작업을 안 가져가요. ' || c.external_id
                            ELSE '브로커 URL을 확인하세요: CELERY_BROKER_URL. Restart the worker '
                                 || 'with celery -A proj worker and check the logs. ' || c.external_id
                          END,
                          CASE m.role WHEN 'assistant' THEN 'gpt-4o-mini' ELSE '' END,
                          CASE m.role WHEN 'assistant' THEN 'devot-rag' ELSE '' END,
                          CASE m.role WHEN 'assistant' THEN '3' ELSE '' END,
                          CASE m.role WHEN 'assistant' THEN
                            '[{{"id": "doc-7", "title": "Celery: First steps", "url": "https://docs.celeryq.dev/", "text": "Celery requires a message broker such as RabbitMQ or Redis.", "score": 0.83}},
                              {{"id": "doc-9", "title": "Workers", "text": "Start a worker with celery -A proj worker.", "score": 0.61}}]'
                          ELSE '[]' END::jsonb,
                          '{{}}', '{{}}', '[]', '', c.created_at
                   FROM annotations_conversation c
                   CROSS JOIN (VALUES ('s', 0, 'system'), ('q', 1, 'user'), ('a', 2, 'assistant'))
                     AS m(external_id, position, role)
                   WHERE {batch}""",  # noqa: S608 - fixed fragments, values are parameters
                [project.pk, low, high],
            )
            # Fresh statistics for the rows just added: without them the planner joins
            # the batch's answers to the whole table and one batch takes minutes.
            cursor.execute("ANALYZE annotations_conversation")
            cursor.execute("ANALYZE annotations_message")
            answers = f"""FROM annotations_message m
                   WHERE m.role = 'assistant' AND m.conversation_id IN
                     (SELECT c.id FROM annotations_conversation c WHERE {batch})"""  # noqa: S608
            cursor.execute(
                f"""INSERT INTO annotations_feedback
                   (project_id, message_id, end_user, rating, reasons, comment, source,
                    created_at, updated_at)
                   SELECT m.project_id, m.id, 'u-' || m.id,
                          CASE WHEN m.id %% 4 = 0 THEN 'down' ELSE 'up' END,
                          CASE WHEN m.id %% 4 = 0 THEN '["incorrect"]' ELSE '[]' END::jsonb,
                          CASE WHEN m.id %% 4 = 0 THEN '답이 틀렸어요' ELSE '' END,
                          'api', m.created_at, m.created_at
                   {answers}""",
                [project.pk, low, high],
            )
            cursor.execute(
                f"""INSERT INTO annotations_annotation
                   (project_id, message_id, rubric_id, annotator_id, annotator_key,
                    annotator_name, source, answers, corrected_answer, created_at, updated_at)
                   SELECT m.project_id, m.id, %s, %s, 'user:' || %s, 'bench-reviewer', 'human',
                          jsonb_build_object('correctness', 1 + m.id %% 5,
                                             'groundedness', 1 + (m.id / 5) %% 5,
                                             'helpfulness', 1 + (m.id / 25) %% 5),
                          CASE WHEN m.id %% 4 = 0 THEN '고친 답: 브로커 설정을 확인하세요.' ELSE '' END,
                          m.created_at, m.created_at
                   {answers}""",
                [rubric.pk, reviewer.pk, reviewer.pk, project.pk, low, high],
            )
        print(f"built {high:,} / {rows:,} answers", flush=True)
    with connection.cursor() as cursor:
        # Vacuumed as well as analyzed, as autovacuum would soon do after such a load:
        # otherwise the first export also pays for setting every new row's hint bits,
        # and without a visibility map no index-only scan is possible (on a server with
        # autovacuum off, raw JSONL at 100k rows ran at 18,900 rows/s before the vacuum
        # and 26,000 after).
        for table in ("conversation", "message", "feedback", "annotation"):
            cursor.execute(f"VACUUM ANALYZE annotations_{table}")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


def run_once(kind: str, file_format: str, limit: int, directory: str) -> None:
    """In a child process: one export, then its figures as JSON on stdout."""
    setup_django()
    from annotations.models import Project
    from exports.options import export_options_clean
    from exports.services.dataset import dataset_export

    options, errors = export_options_clean({"kind": kind, "format": file_format, "limit": limit})
    assert options is not None, errors
    project = Project.objects.get(slug=BENCH_SLUG)
    if file_format == "parquet":
        # Imported by the first Parquet export of a process (a worker imports it once);
        # like Django's setup, not part of the export's time. Its memory counts.
        import exports.parquet  # noqa: F401
    started = time.perf_counter()
    manifest = dataset_export(
        project=project, options=options, output=Path(directory) / f"{kind}.{file_format}"
    )
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": manifest["rows_total"],
                "seconds": seconds,
                "peak_mb": peak_kb / 1024,
                "bytes": manifest["files"][0]["bytes"],
            }
        )
    )


def measure(kind: str, file_format: str, limit: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="export-bench-") as directory:
        result = subprocess.run(
            [sys.executable, __file__, "--run", kind, file_format, str(limit), directory],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", help="comma-separated row counts to export")
    parser.add_argument("--kind", default="raw", choices=("raw", "eval", "sft", "preference"))
    parser.add_argument("--formats", default="jsonl,csv,parquet")
    parser.add_argument("--run", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        kind, file_format, limit, directory = args.run
        run_once(kind, file_format, int(limit), directory)
        return
    ensure_database()
    setup_django()
    from django.db import connection

    from bench._machine import host_pace, machine_summary

    build(args.rows)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = f"PostgreSQL {cursor.fetchone()[0]}"
    connection.close()
    print(f"machine: {machine_summary(pg_version)}")
    print(host_pace(), flush=True)
    sizes = (
        [int(size) for size in args.sizes.split(",")]
        if args.sizes
        else [max(1, args.rows // 10), args.rows]
    )
    peaks: dict[str, list[float]] = {}
    for size in sizes:
        for file_format in args.formats.split(","):
            figures = measure(args.kind, file_format, size)
            peaks.setdefault(file_format, []).append(figures["peak_mb"])
            print(
                f"{args.kind:>10} {file_format:>7} {figures['rows']:>10,} rows: "
                f"{figures['rows'] / figures['seconds']:>9,.0f} rows/s "
                f"({figures['seconds']:.1f} s), peak RSS {figures['peak_mb']:.0f} MB, "
                f"file {figures['bytes'] / 1e6:,.1f} MB",
                flush=True,
            )
    if len(sizes) > 1:
        for file_format, values in peaks.items():
            print(
                f"{file_format}: peak RSS at {sizes[-1]:,} / at {sizes[0]:,} = "
                f"{values[-1] / values[0]:.2f}"
            )
    print(f"{host_pace()}, after the runs")


if __name__ == "__main__":
    main()
