"""Database helpers shared by the hot paths (the widget's vote, the queue's claim)."""

from django.db import connection
from django.db.backends.utils import CursorWrapper


def prepared_cursor() -> CursorWrapper:
    """A PostgreSQL cursor that binds parameters server-side, so that a statement run
    often on a connection is prepared after a few runs (prepare_threshold in the
    settings) and no longer parsed and planned each time. Wrapped like Django's own
    cursors (error translation, query logging)."""
    import psycopg

    connection.ensure_connection()
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))
