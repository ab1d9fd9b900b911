"""Django's PostgreSQL backend, with a cheaper health check for pooled connections.

With CONN_HEALTH_CHECKS, Django checks every connection it takes from the pool with a
round trip to the server. Under load a connection goes back to the pool and out again
within milliseconds, and that round trip cost about 8% of a widget vote's CPU. This
backend checks a pooled connection only when it has been idle in the pool for at
least DB_POOL_CHECK_AFTER seconds: the connections a server restart, a failover or a
firewall's idle timeout breaks are the ones that sat unused. Without a pool it is
Django's backend unchanged.
"""

import time
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base

_IDLE_SINCE = "_feedback_site_idle_since"


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if not self.pool:
            return connection
        # Every connection of a full pool may have been broken at once.
        for _ in range(self.pool.max_size):
            idle_since = getattr(connection, _IDLE_SINCE, None)
            if idle_since is None or time.monotonic() - idle_since < settings.DB_POOL_CHECK_AFTER:
                return connection  # just opened, or back from a request a moment ago
            try:
                connection.execute("")
                return connection
            except psycopg.Error:
                # Broken: the pool discards it and opens another in the background.
                self.pool.putconn(connection)
                connection = super().get_new_connection(conn_params)
        return connection

    def _close(self) -> None:
        if self.pool and self.connection is not None:
            setattr(self.connection, _IDLE_SINCE, time.monotonic())
        super()._close()
