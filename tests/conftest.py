import json
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from django.test import Client
from hypothesis import settings as hypothesis_settings

from annotations.models import Project, ProjectKey
from tests.factories import ProjectFactory, ProjectKeyFactory

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Property tests explore fresh random examples locally; in CI they run a fixed,
# reproducible set so that a red build always means a change, not luck.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")


def require(condition: bool, reason: str) -> None:
    """Skip a test whose real dependency is missing; in CI the missing dependency fails it."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not be skipped)")
    pytest.skip(reason)


def redis_url() -> str:
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis") else "redis://127.0.0.1:6379/15"


def redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


class ApiClient:
    """A Django test client that sends JSON with a key, as an integrator's server would."""

    def __init__(self, raw_key: str | None) -> None:
        self.client = Client()
        self.raw_key = raw_key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        merged = {"Authorization": f"Bearer {self.raw_key}"} if self.raw_key else {}
        merged.update(headers or {})
        return merged

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        return self.client.post(
            path, data=data, content_type=content_type, headers=self._headers(headers)
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(path, headers=self._headers(headers))

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.delete(path, headers=self._headers(headers))


@pytest.fixture(scope="session", autouse=True)
def collected_static() -> None:
    """With DEBUG off, static files are served from the collected manifest, as in production."""
    from django.conf import settings
    from django.core.management import call_command

    if "Manifest" in settings.STORAGES["staticfiles"]["BACKEND"]:
        call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def plain_http() -> Iterator[None]:
    """The test client and the live server speak plain HTTP, as gunicorn does behind a
    proxy that terminates TLS; production mode would otherwise redirect each request.
    Session-wide, before the live server's middleware reads the setting."""
    from django.test import override_settings

    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Each test starts and ends in the default language: a request in Korean leaves
    Korean active in the thread, which would translate the next test's messages."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def isolated_cache(settings: Any) -> None:
    """A fresh cache namespace per test, so rate-limit counters never leak between tests."""
    import uuid

    settings.CACHES = {
        name: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
        for name, config in settings.CACHES.items()
    }


@pytest.fixture
def project(db: None) -> Project:
    return ProjectFactory(slug="devot", name="Devot")


@pytest.fixture
def secret_key(project: Project) -> str:
    raw_key = "sk_" + "a" * 43
    ProjectKeyFactory(project=project, raw_key=raw_key)
    return raw_key


@pytest.fixture
def api(secret_key: str) -> ApiClient:
    return ApiClient(secret_key)


@pytest.fixture
def make_api(db: None) -> Callable[..., ApiClient]:
    def make(*, project: Project, kind: str = ProjectKey.Kind.SECRET) -> ApiClient:
        prefix = "sk_" if kind == ProjectKey.Kind.SECRET else "pk_"
        key = ProjectKeyFactory(project=project, kind=kind, raw_key=f"{prefix}{project.slug}-key")
        assert key.pk
        return ApiClient(f"{prefix}{project.slug}-key")

    return make


def conversation_payload(conversation_id: str = "conv-123", **overrides: Any) -> dict[str, Any]:
    payload = {
        "id": conversation_id,
        "user": "u-42",
        "tags": ["beta"],
        "metadata": {"channel": "discord"},
        "messages": [
            {"id": "m1", "role": "user", "content": "Celery 워커가 작업을 안 가져가요."},
            {
                "id": "m2",
                "role": "assistant",
                "content": "브로커 URL을 확인하세요: `CELERY_BROKER_URL`.",
                "model": "gpt-4o-mini",
                "prompt": {"name": "devot-rag", "version": "3"},
                "contexts": [
                    {
                        "id": "doc-7",
                        "title": "Celery: First steps",
                        "url": "https://docs.celeryq.dev/en/stable/getting-started/",
                        "text": "Celery requires a message broker.",
                        "score": 0.83,
                    }
                ],
                "latency_ms": 1234,
                "usage": {"prompt_tokens": 100, "completion_tokens": 50},
                "metadata": {"trace": "abc"},
            },
        ],
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Run Celery tasks in-process for this test, also when a broker is configured."""
    from feedback_site.celery import app as celery_app

    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager


def database_session(*, autocommit: bool = False) -> Any:
    """A psycopg connection of its own to the test database (PostgreSQL): a second
    session, for tests of locks and snapshots between sessions."""
    import psycopg
    from django.db import connection

    database = connection.settings_dict
    return psycopg.connect(
        host=database["HOST"],
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname=database["NAME"],
        autocommit=autocommit,
    )
