"""A real Celery worker process for integration tests, consuming from Redis."""

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from django.db import connection

from tests.conftest import redis_reachable, redis_url, require

ROOT = Path(__file__).resolve().parent.parent


def subprocess_database_url() -> str:
    """A DATABASE_URL that points another process at this test run's database."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = settings.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}{host}:{settings.get('PORT') or 5432}/{settings['NAME']}"


@contextlib.contextmanager
def celery_worker_process(*, queue: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `celery worker` on its own queue against Redis; yields the broker URL."""
    broker = redis_url()
    require(redis_reachable(broker), f"Redis is not reachable at {broker}")
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "CELERY_BROKER_URL": broker,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "worker-test-secret-" + "x" * 40,
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "feedback_site",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "-Q",
        queue,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
    ]
    worker = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield broker
    finally:
        process_stop(worker)


def process_stop(process: subprocess.Popen) -> None:
    """Stop a server or worker started by a test, and print the end of its output
    (pytest shows it when the test fails)."""
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    print(output[-4000:])
