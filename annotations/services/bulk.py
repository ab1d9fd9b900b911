"""Fast bulk inserts: COPY on PostgreSQL, bulk_create elsewhere.

Ingestion writes thousands of rows per request. Django's bulk_create renders every
value into SQL parameters in Python, which costs several times more than the
database's own work; COPY streams rows in PostgreSQL's wire format instead.
"""

import json
from collections.abc import Sequence
from typing import Any

import orjson
from django.db import connection, models


def rows_insert(*, model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
    """Insert rows (tuples of values in `fields` order) into the model's table, no RETURNING."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=500
        )
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    json_positions = [i for i, field in enumerate(columns) if isinstance(field, models.JSONField)]
    quote = connection.ops.quote_name
    statement = "COPY {} ({}) FROM STDIN".format(
        quote(meta.db_table), ", ".join(quote(field.column) for field in columns)
    )

    def dumps(value: Any) -> str:
        try:
            return orjson.dumps(value).decode()
        except TypeError:
            # Integers beyond 64 bits, which orjson refuses; JSON and jsonb hold them.
            return json.dumps(value, ensure_ascii=False, allow_nan=False)

    connection.ensure_connection()
    # psycopg's own errors become Django's (DataError, IntegrityError...), as they do
    # from Django's cursors, so that callers can tell a refused row from an outage.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        for row in rows:
            if json_positions:
                values: list[Any] = list(row)
                for position in json_positions:
                    values[position] = dumps(values[position])
                copy.write_row(values)
            else:
                copy.write_row(row)
