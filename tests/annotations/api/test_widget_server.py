"""The widget endpoint served as in production: gunicorn with the shipped gunicorn.conf.py
(gevent workers, a pool of database connections per worker), many clients at once."""

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.db import connection

from annotations.models import Feedback
from tests.conftest import conversation_payload
from tests.factories import ProjectKeyFactory
from tests.workers import process_stop, subprocess_database_url

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]
ORIGIN = "https://chat.example.com"
PUBLIC_KEY = "pk_" + "g" * 43
WORKERS = 2
POOL_SIZE = 3
CLIENTS = 16
ANSWERS = [f"conv-{index}" for index in range(4)]
ROUNDS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(project, api):
    project.allowed_origins = [ORIGIN]
    project.save()
    ProjectKeyFactory(project=project, kind="public", raw_key=PUBLIC_KEY)
    for conversation in ANSWERS:
        assert (
            api.post("/api/v1/conversations/", conversation_payload(conversation)).status_code
            == 201
        )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "server-test-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP, as behind a proxy that terminates TLS.
        "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(WORKERS),
        "DB_POOL_SIZE": str(POOL_SIZE),
        "WIDGET_RATE_PER_KEY": "100000/s",
        "WIDGET_RATE_PER_CLIENT": "100000/s",
    }
    # Only the shipped configuration file: no worker class or pool given here.
    env.pop("GUNICORN_WORKER_CLASS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "feedback_site.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert process.poll() is None, process.communicate()[0][-4000:]
                assert time.monotonic() < deadline, "gunicorn did not start in 30 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process_stop(process)


def client_votes(base_url: str, client: int) -> list[tuple[str, int]]:
    """Each client votes on every answer ROUNDS times, over one keep-alive connection."""
    session = requests.Session()
    statuses = []
    for round_ in range(ROUNDS):
        for conversation in ANSWERS:
            rating = "up" if (client + round_) % 2 else "down"
            response = session.post(
                f"{base_url}/api/v1/widget/feedback/",
                data=json.dumps(
                    {
                        "conversation": conversation,
                        "message": "m2",
                        "user": f"visitor-{client}",
                        "rating": rating,
                        "comment": f"round {round_} 의견",
                    },
                    ensure_ascii=False,
                ).encode(),
                headers={
                    "Content-Type": "application/json",
                    "X-Project-Key": PUBLIC_KEY,
                    "Origin": ORIGIN,
                },
                timeout=30,
            )
            statuses.append((rating, response.status_code))
    return statuses


def test_concurrent_votes_through_gevent_workers_keep_one_row_each(server):
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda client: client_votes(server, client), range(CLIENTS)))

    statuses = [status for result in results for _, status in result]
    # The first vote of a visitor on an answer creates it, later ones replace it.
    assert statuses.count(201) == CLIENTS * len(ANSWERS)
    assert statuses.count(200) == CLIENTS * len(ANSWERS) * (ROUNDS - 1)
    rows = list(
        Feedback.objects.values_list(
            "end_user", "message__conversation__external_id", "rating", "comment"
        )
    )
    assert len(rows) == CLIENTS * len(ANSWERS)
    final_rating = {
        client: "up" if (client + ROUNDS - 1) % 2 else "down" for client in range(CLIENTS)
    }
    for end_user, _, rating, comment in rows:
        assert rating == final_rating[int(end_user.removeprefix("visitor-"))]
        assert comment == f"round {ROUNDS - 1} 의견"

    if connection.vendor == "postgresql":
        # Sixteen clients at once, but the workers share their pools: no connection
        # per client (a gevent worker without the pool would open one per greenlet).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            (server_connections,) = cursor.fetchone()
        assert 1 <= server_connections <= WORKERS * POOL_SIZE
