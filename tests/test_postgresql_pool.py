"""The pooled PostgreSQL backend checks a connection only after it sat idle."""

from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection

from feedback_site.postgresql.base import DatabaseWrapper

pytestmark = pytest.mark.django_db

if connection.vendor != "postgresql":
    pytest.skip("connection pools are a PostgreSQL feature", allow_module_level=True)


@pytest.fixture
def pooled() -> Iterator[DatabaseWrapper]:
    settings_dict = {
        **connection.settings_dict,
        "ENGINE": "feedback_site.postgresql",
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {**connection.settings_dict["OPTIONS"], "pool": {"min_size": 1, "max_size": 1}},
    }
    wrapper = DatabaseWrapper(settings_dict, alias="pool-check-test")
    try:
        yield wrapper
    finally:
        wrapper.close()
        wrapper.close_pool()


def backend_pid(wrapper: DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def break_idle_connection(wrapper: DatabaseWrapper) -> int:
    """Use a pooled connection, give it back, and have the server end it."""
    pid = backend_pid(wrapper)
    wrapper.close()  # back to the pool
    with connection.cursor() as cursor:
        # With a timeout, the call returns once the server process has ended.
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    return pid


def test_a_connection_broken_while_idle_is_replaced_before_use(pooled, settings):
    settings.DB_POOL_CHECK_AFTER = 0
    broken = break_idle_connection(pooled)

    assert backend_pid(pooled) != broken


def test_a_connection_back_from_a_request_a_moment_ago_is_not_checked(pooled, settings):
    # The check is what saves a request from a broken connection: without it the
    # query fails, which shows that no round trip was spent on checking.
    settings.DB_POOL_CHECK_AFTER = 3600
    break_idle_connection(pooled)

    with pytest.raises(OperationalError):
        backend_pid(pooled)
