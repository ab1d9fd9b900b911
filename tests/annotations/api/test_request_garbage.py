"""API requests free what they allocate by reference counting alone.

Garbage in reference cycles waits for Python's cyclic collector, whose pauses stall
every request a gevent worker has in flight: the widget's p99 latency. These tests run
requests through Django's WSGI handler with its whole middleware stack, as gunicorn
does, and check that nothing is left for the collector.
"""

import gc
import io
import json
from collections.abc import Iterator

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from annotations.models import Feedback
from tests.conftest import conversation_payload
from tests.factories import ProjectKeyFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://chat.example.com"
PUBLIC_KEY = "pk_" + "g" * 43


@pytest.fixture
def handler() -> Iterator[WSGIHandler]:
    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call(handler: WSGIHandler, method: str, path: str, body: object = None, **headers: str):
    """One request through the WSGI interface; returns (status code, parsed body)."""
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": io.StringIO(),
        "CONTENT_LENGTH": str(len(data)),
        "CONTENT_TYPE": "application/json",
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    statuses: list[str] = []
    response = handler(environ, lambda status, response_headers: statuses.append(status))
    try:
        content = b"".join(response)
    finally:
        response.close()
    return int(statuses[0].split()[0]), json.loads(content) if content else None


def cyclic_garbage(requests) -> list[str]:
    """The type names of what the requests left for the cyclic collector."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        requests()
        gc.collect()
        return sorted(
            {type(thing).__qualname__ for thing in gc.garbage if id(thing) not in _orm_closures()}
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _orm_closures() -> set[int]:
    """Django's own: a query with select_related leaves a recursive local function.

    SQLCompiler.get_select defines get_select_from_parent, which refers to itself
    through its closure: three small objects per such query, with no request data.
    """
    ids: set[int] = set()
    for thing in gc.garbage:
        if getattr(thing, "__name__", None) == "get_select_from_parent":
            ids.update((id(thing), id(thing.__closure__), *map(id, thing.__closure__)))
    return ids


@pytest.fixture
def widget_project(project, api):
    project.allowed_origins = [ORIGIN]
    project.save()
    ProjectKeyFactory(project=project, kind="public", raw_key=PUBLIC_KEY)
    assert api.post("/api/v1/conversations/", conversation_payload()).status_code == 201
    return project


def test_widget_votes_leave_no_cyclic_garbage(widget_project, handler):
    widget = {"x_project_key": PUBLIC_KEY, "origin": ORIGIN}

    def votes() -> None:
        for rating in ("up", "down", "up"):
            vote = {"conversation": "conv-123", "message": "m2", "user": "u-1", "rating": rating}
            status, body = call(handler, "POST", "/api/v1/widget/feedback/", vote, **widget)
            assert status in (200, 201), body
        status, body = call(handler, "GET", "/api/v1/widget/config/", **widget)
        assert status == 200, body

    votes()  # first use fills caches that live for the process
    assert cyclic_garbage(votes) == []
    assert Feedback.objects.get().rating == "up"


def test_ingestion_leaves_no_cyclic_garbage(widget_project, secret_key, handler):
    def ingest() -> None:
        for n in range(3):
            status, body = call(
                handler,
                "POST",
                "/api/v1/conversations/",
                conversation_payload(f"conv-gc-{n}"),
                authorization=f"Bearer {secret_key}",
            )
            assert status in (200, 201), body

    call(
        handler,
        "POST",
        "/api/v1/conversations/",
        conversation_payload("warm-up"),
        authorization=f"Bearer {secret_key}",
    )
    assert cyclic_garbage(ingest) == []
