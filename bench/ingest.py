"""Ingestion throughput: messages per second through the batch endpoint and the service.

Runs against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
The HTTP figure goes through a real gunicorn server on this machine with concurrent
clients posting batches of 1,000 conversations; the service figure calls
conversation_batch_ingest in-process. Also prints the queries per batch for several
batch sizes, which must not grow with the size.

    python bench/ingest.py [--batches 30] [--clients 4] [--workers 3]
"""

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's queue module: keep this folder
# off the import path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if entry and Path(entry).resolve() != HERE]


import argparse
import json
import os
import socket
import statistics
import subprocess
import threading
import time
import uuid

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedback_site.settings")

import django

django.setup()

import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.payloads import ConversationIn
from annotations.services.ingest import conversation_batch_ingest
from annotations.services.projects import project_create
from bench._machine import machine_summary

BATCH_SIZE = 1000
MESSAGES_PER_CONVERSATION = 4


def conversation(conversation_id: str) -> dict:
    context = {
        "id": "doc-7",
        "title": "Celery: Workers Guide",
        "url": "https://docs.celeryq.dev/en/stable/userguide/workers.html",
        "text": "You can start the worker in the foreground by executing the command "
        "celery -A proj worker -l INFO. 워커는 브로커에서 작업을 가져옵니다.",
        "score": 0.83,
    }
    return {
        "id": conversation_id,
        "user": "u-42",
        "tags": ["bench", "ko"],
        "messages": [
            {
                "id": "m1",
                "role": "user",
                "content": "Celery 워커가 작업을 안 가져가요. 브로커는 Redis입니다.",
            },
            {
                "id": "m2",
                "role": "assistant",
                "content": "워커가 같은 브로커 URL과 큐 이름을 쓰는지 확인하세요. "
                "`celery -A proj inspect active_queues`로 구독 중인 큐를 볼 수 있습니다.",
                "model": "gpt-4o-mini",
                "prompt": {"name": "devot-rag", "version": "3"},
                "contexts": [context, {**context, "id": "doc-8", "score": 0.71}],
                "latency_ms": 1234,
                "usage": {"prompt_tokens": 812, "completion_tokens": 164},
            },
            {"id": "m3", "role": "user", "content": "How do I check which queues it consumes?"},
            {
                "id": "m4",
                "role": "assistant",
                "content": "Run `celery -A proj inspect active_queues`.",
                "model": "gpt-4o-mini",
                "prompt": {"name": "devot-rag", "version": "3"},
                "contexts": [context],
                "latency_ms": 987,
                "usage": {"prompt_tokens": 900, "completion_tokens": 40},
            },
        ],
    }


def batch_body(prefix: str) -> bytes:
    items = [conversation(f"{prefix}-{i}") for i in range(BATCH_SIZE)]
    return json.dumps({"conversations": items}, ensure_ascii=False).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_http(secret_key: str, *, batches: int, clients: int, workers: int) -> dict:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "feedback_site.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        # Plain HTTP on loopback, as behind a proxy that terminates TLS.
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false"},
    )
    url = f"http://127.0.0.1:{port}/api/v1/conversations/batch/"
    headers = {"Authorization": f"Bearer {secret_key}", "Content-Type": "application/json"}
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/api/v1/project/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        run = uuid.uuid4().hex[:8]
        bodies = [batch_body(f"http-{run}-{i}") for i in range(batches)]
        requests.post(url, data=batch_body(f"warm-{run}"), headers=headers, timeout=120)
        latencies: list[float] = []
        errors: list[str] = []
        next_index = iter(range(batches))
        lock = threading.Lock()

        def client() -> None:
            session = requests.Session()
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                started = time.perf_counter()
                response = session.post(url, data=bodies[index], headers=headers, timeout=120)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or response.json()["created"] != BATCH_SIZE:
                    errors.append(f"{response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    if errors:
        raise SystemExit(f"HTTP errors: {errors[:3]}")
    messages = batches * BATCH_SIZE * MESSAGES_PER_CONVERSATION
    return {
        "messages": messages,
        "seconds": elapsed,
        "messages_per_second": messages / elapsed,
        "batch_p50_ms": statistics.median(latencies) * 1000,
        "batch_max_ms": max(latencies) * 1000,
        "body_bytes": len(bodies[0]),
    }


def bench_service(project, *, batches: int) -> dict:
    run = uuid.uuid4().hex[:8]
    raw = [json.loads(batch_body(f"svc-{run}-{i}"))["conversations"] for i in range(batches)]
    started = time.perf_counter()
    for items in raw:
        payloads = [ConversationIn.model_validate(item) for item in items]
        conversation_batch_ingest(project=project, conversations=payloads)
    elapsed = time.perf_counter() - started
    messages = batches * BATCH_SIZE * MESSAGES_PER_CONVERSATION
    return {"messages": messages, "seconds": elapsed, "messages_per_second": messages / elapsed}


def queries_per_batch(project) -> dict[int, int]:
    counts = {}
    run = uuid.uuid4().hex[:8]
    for size in (10, 100, 1000):
        items = [
            ConversationIn.model_validate(conversation(f"q-{run}-{size}-{i}")) for i in range(size)
        ]
        with CaptureQueriesContext(connection) as captured:
            conversation_batch_ingest(project=project, conversations=items)
        counts[size] = len(captured)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    if connection.vendor != "postgresql":
        raise SystemExit("Run this against PostgreSQL: set DATABASE_URL=postgres://...")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = f"PostgreSQL {cursor.fetchone()[0]}"
    project, secret_key, _ = project_create(slug=f"bench-{uuid.uuid4().hex[:8]}", name="bench")

    print(f"machine: {machine_summary(pg_version)}")
    print(
        f"data: batches of {BATCH_SIZE} conversations x {MESSAGES_PER_CONVERSATION} messages "
        f"(2 assistant answers with retrieved contexts), Korean and English"
    )
    counts = queries_per_batch(project)
    print(
        "queries per batch: "
        + ", ".join(f"{size} conversations -> {n}" for size, n in counts.items())
    )
    service = bench_service(project, batches=max(5, args.batches // 3))
    print(
        f"service: {service['messages']:,} messages in {service['seconds']:.2f} s "
        f"= {service['messages_per_second']:,.0f} messages/s (validation + write, one process)"
    )
    http = bench_http(secret_key, batches=args.batches, clients=args.clients, workers=args.workers)
    print(
        f"http (gunicorn, {args.workers} workers, {args.clients} clients): {http['messages']:,} messages "
        f"in {http['seconds']:.2f} s = {http['messages_per_second']:,.0f} messages/s; "
        f"batch p50 {http['batch_p50_ms']:.0f} ms, max {http['batch_max_ms']:.0f} ms, "
        f"body {http['body_bytes'] / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
