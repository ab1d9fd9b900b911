"""Widget endpoint: votes per second and p50/p99 latency under concurrent clients.

Runs gunicorn against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
with Redis as the cache that holds the rate-limit counters (CELERY_BROKER_URL, default
redis://127.0.0.1:6379/0). Every client sends votes from an allowed Origin with the
public key, for random answers and end users, like browsers embedding the widget.
The rate limits are raised for the run, since every client shares one address.

    python bench/widget.py [--clients 32] [--seconds 20] [--workers 2]
                           [--worker-class gevent|gthread|sync] [--threads 8]
                           [--client wrk|python]

The load comes from wrk (Debian package `wrk`; a C load generator whose own CPU use is
small, and whose latencies are not inflated by a Python client waiting for its GIL)
when it is installed, else from Python threads in this process.
"""

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's queue module: keep this folder
# off the import path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if entry and Path(entry).resolve() != HERE]


import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedback_site.settings")

import django

django.setup()

from django.db import connection

from annotations.payloads import ConversationIn
from annotations.services.ingest import conversation_batch_ingest
from annotations.services.projects import project_create
from bench._machine import machine_summary

ORIGIN = "https://chat.example.com"
CONVERSATIONS = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(project) -> list[tuple[str, str]]:
    items = []
    for i in range(CONVERSATIONS):
        items.append(
            ConversationIn.model_validate(
                {
                    "id": f"w-{i}",
                    "user": f"u-{i % 500}",
                    "messages": [
                        {
                            "id": "m1",
                            "role": "user",
                            "content": "Celery 워커가 작업을 안 가져가요.",
                        },
                        {"id": "m2", "role": "assistant", "content": "브로커 URL을 확인하세요."},
                        {"id": "m3", "role": "user", "content": "Thanks, and retries?"},
                        {"id": "m4", "role": "assistant", "content": "Use autoretry_for."},
                    ],
                }
            )
        )
    conversation_batch_ingest(project=project, conversations=items[:1000])
    conversation_batch_ingest(project=project, conversations=items[1000:])
    return [(f"w-{i}", message) for i in range(CONVERSATIONS) for message in ("m2", "m4")]


def run_clients(port: int, public_key: str, answers, *, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    headers = {"Content-Type": "application/json", "X-Project-Key": public_key, "Origin": ORIGIN}

    def client(index: int) -> None:
        rng = random.Random(index)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local_latencies = []
        local_statuses: dict[int, int] = {}
        while time.monotonic() < stop_at:
            conversation, message = rng.choice(answers)
            rating = rng.choice(["up", "down"])
            body = json.dumps(
                {
                    "conversation": conversation,
                    "message": message,
                    "user": f"visitor-{rng.randrange(5000)}",
                    "rating": rating,
                    # Reasons go with thumbs-down votes (three in five of them).
                    "reasons": ["incorrect"] if rating == "down" and rng.random() < 0.6 else [],
                    "comment": "좋아요" if rng.random() < 0.2 else "",
                }
            )
            started = time.perf_counter()
            try:
                connection.request("POST", "/api/v1/widget/feedback/", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (http.client.HTTPException, OSError):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            local_latencies.append(time.perf_counter() - started)
            local_statuses[status] = local_statuses.get(status, 0) + 1
        with lock:
            latencies.extend(local_latencies)
            for status, count in local_statuses.items():
                statuses[status] = statuses.get(status, 0) + count

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    ok = statuses.get(200, 0) + statuses.get(201, 0)
    return {
        "requests": len(latencies),
        "ok": ok,
        "statuses": statuses,
        "per_second": ok / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "seconds": elapsed,
    }


WRK_SCRIPT = """
local answers = {}
for i = 0, %(conversations)d - 1 do
  answers[#answers + 1] = {"w-" .. i, "m2"}
  answers[#answers + 1] = {"w-" .. i, "m4"}
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Project-Key"] = "%(public_key)s"
wrk.headers["Origin"] = "%(origin)s"

function setup(thread)
  thread:set("id", math.random(1, 1000000))
end

function init(args)
  math.randomseed(id)
end

request = function()
  local answer = answers[math.random(#answers)]
  local rating = math.random() < 0.5 and "up" or "down"
  local reasons = (rating == "down" and math.random() < 0.6) and '["incorrect"]' or '[]'
  local comment = math.random() < 0.2 and "좋아요" or ""
  local body = string.format(
    '{"conversation":"%%s","message":"%%s","user":"visitor-%%d","rating":"%%s","reasons":%%s,"comment":"%%s"}',
    answer[1], answer[2], math.random(0, 4999), rating, reasons, comment)
  return wrk.format(nil, "/api/v1/widget/feedback/", nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format("p50_us %%d\\np99_us %%d\\n", latency:percentile(50), latency:percentile(99)))
  for _, p in ipairs({75, 90, 95, 99.9}) do io.write(string.format("p%%s_us %%d\\n", p, latency:percentile(p))) end
  io.write(string.format("max_us %%d\\n", latency.max))
end
"""


def run_wrk(port: int, public_key: str, *, clients: int, seconds: float, threads: int) -> dict:
    script = WRK_SCRIPT % {
        "conversations": CONVERSATIONS,
        "public_key": public_key,
        "origin": ORIGIN,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as handle:
        handle.write(script)
        handle.flush()
        output = subprocess.run(
            [
                "wrk",
                "--threads",
                str(threads),
                "--connections",
                str(clients),
                "--duration",
                f"{seconds:.0f}s",
                "--timeout",
                "10s",
                "--script",
                handle.name,
                f"http://127.0.0.1:{port}/api/v1/widget/feedback/",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    if os.environ.get("BENCH_VERBOSE"):
        print(output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", output).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    bad = int(failed.group(1)) if failed else 0
    ok = requests - bad
    return {
        "requests": requests,
        "ok": ok,
        "statuses": {"2xx": ok, "other": bad, **({"socket": errors.group(1)} if errors else {})},
        "per_second": ok / elapsed,
        "p50_ms": int(re.search(r"p50_us (\d+)", output).group(1)) / 1000,
        "p99_ms": int(re.search(r"p99_us (\d+)", output).group(1)) / 1000,
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--worker-class", default="gevent", choices=["gevent", "gthread", "sync"])
    parser.add_argument(
        "--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    # One event-loop thread drives the 32 connections at well over 10,000 requests/s; a
    # second one only competes with the server for the machine's two cores.
    parser.add_argument("--wrk-threads", type=int, default=1)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run this against PostgreSQL: set DATABASE_URL=postgres://...")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = f"PostgreSQL {cursor.fetchone()[0]}"
    project, _, public_key = project_create(
        slug=f"widget-bench-{uuid.uuid4().hex[:8]}", name="bench"
    )
    project.allowed_origins = [ORIGIN]
    project.save()
    answers = seed(project)

    port = free_port()
    env = {
        **os.environ,
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback, as behind a proxy that terminates TLS.
        "SECURE_SSL_REDIRECT": "false",
        "WIDGET_RATE_PER_KEY": "1000000/s",
        "WIDGET_RATE_PER_CLIENT": "1000000/s",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "feedback_site.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        run_clients(port, public_key, answers, clients=4, seconds=2)  # warm-up
        if args.client == "wrk":
            # Warm-up at full concurrency: database pools grown to size, statements
            # prepared on every connection, before the measured run.
            run_wrk(port, public_key, clients=args.clients, seconds=5, threads=args.wrk_threads)
            result = run_wrk(
                port,
                public_key,
                clients=args.clients,
                seconds=args.seconds,
                threads=args.wrk_threads,
            )
        else:
            result = run_clients(
                port, public_key, answers, clients=args.clients, seconds=args.seconds
            )
    finally:
        server.terminate()
        server.wait(10)

    per_worker = (
        f"a pool of {os.environ.get('DB_POOL_SIZE', '8')} database connections each"
        if args.worker_class == "gevent"
        else f"{args.threads} threads each"
    )
    client = f"wrk, {args.wrk_threads} thread(s)" if args.client == "wrk" else "Python threads"
    print(f"machine: {machine_summary(pg_version)}")
    print(
        f"data: {CONVERSATIONS:,} conversations, {len(answers):,} answers; votes by 5,000 visitors "
        f"(new votes and replaced votes mixed); cache and rate limits in Redis"
    )
    print(
        f"server: gunicorn {args.workers} {args.worker_class} workers, {per_worker}; "
        f"{args.clients} concurrent clients ({client}) for {result['seconds']:.0f} s "
        "on the same machine"
    )
    print(
        f"result: {result['per_second']:,.0f} votes/s; p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms; statuses {result['statuses']}"
    )


if __name__ == "__main__":
    main()
