"""The Parquet writer: the kind's fixed Arrow schema, written in row groups."""

import io
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from exports.schemas import JSON
from exports.writers import DatasetWriter, Row, json_text

PARQUET_ROW_GROUP_ROWS = 20_000


def _needs_json(data_type: pa.DataType, field: pa.Field | None = None) -> bool:
    if field is not None and field.metadata == JSON:
        return True
    if pa.types.is_list(data_type):
        return _needs_json(data_type.value_type, data_type.value_field)
    if pa.types.is_struct(data_type):
        return any(
            _needs_json(data_type.field(index).type, data_type.field(index))
            for index in range(data_type.num_fields)
        )
    return False


def _converter(field: pa.Field) -> Callable[[Any], Any] | None:
    """A function turning a value into what the field's Arrow type takes; None if as is."""
    if field.metadata == JSON:
        return lambda value: value if value is None or isinstance(value, str) else json_text(value)
    data_type = field.type
    if not _needs_json(data_type):
        return None
    if pa.types.is_list(data_type):
        inner = _converter(data_type.value_field)
        return lambda value: None if value is None else [inner(element) for element in value]
    children = [
        (data_type.field(index).name, _converter(data_type.field(index)))
        for index in range(data_type.num_fields)
    ]

    def convert_struct(value: Any) -> Any:
        if value is None:
            return None
        converted = dict(value)
        for name, convert in children:
            if convert is not None and name in converted:
                converted[name] = convert(converted[name])
        return converted

    return convert_struct


# Columns whose values come from a few (roles, models, sources, reviewers, tags).
DICTIONARY_COLUMNS = frozenset(
    {
        "tags",
        "end_user",
        "model",
        "prompt_name",
        "prompt_version",
        "role",
        "rating",
        "source",
        "annotator",
        "type",
    }
)


def _leaf_paths(schema: pa.Schema) -> list[str]:
    """The Parquet paths of the schema's leaf columns (`history.list.element.role`)."""

    def walk(path: str, data_type: pa.DataType) -> list[str]:
        if pa.types.is_list(data_type):
            return walk(f"{path}.list.element", data_type.value_type)
        if pa.types.is_struct(data_type):
            return [
                leaf
                for index in range(data_type.num_fields)
                for leaf in walk(
                    f"{path}.{data_type.field(index).name}", data_type.field(index).type
                )
            ]
        return [path]

    return [leaf for field in schema for leaf in walk(field.name, field.type)]


def _leaf_name(path: str) -> str:
    """The name of the column a leaf belongs to: `role` for `history.list.element.role`,
    `tags` for `tags.list.element`."""
    names = [name for name in path.split(".") if name not in ("list", "element")]
    return names[-1]


class ParquetWriter(DatasetWriter):
    """Parquet with the kind's fixed schema, in row groups of a bounded size.

    Each batch of rows becomes Arrow columns at once (compact columnar memory, not
    Python dicts): serialized as JSON lines and parsed by Arrow's JSON reader against
    the schema, several times faster than converting nested Python values with
    pa.array. A row group is written when enough rows have gathered.
    """

    def _open(self) -> None:
        if self.schema is None:
            raise ValueError("a Parquet file needs the kind's Arrow schema")
        leaves = _leaf_paths(self.schema)
        self.writer = pq.ParquetWriter(
            self.temp_path,
            self.schema,
            compression="zstd",
            # Dictionaries for the columns of few distinct values only: for the others
            # (texts, ids) they cost time and bytes, and zstd does better alone.
            use_dictionary=[path for path in leaves if _leaf_name(path) in DICTIONARY_COLUMNS],
            # Statistics (min and max per row group) for the top-level columns, which a
            # reader can filter on, not for the values nested in lists and structs.
            write_statistics=[path for path in leaves if "." not in path],
        )
        self.converters = [
            (field.name, convert)
            for field in self.schema
            if (convert := _converter(field)) is not None
        ]
        self.parse_options = pa_json.ParseOptions(
            explicit_schema=self.schema, unexpected_field_behavior="ignore"
        )
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0

    def _arrow_ready(self, row: Row) -> Row:
        if not self.converters:
            return row
        ready = dict(row)
        for name, convert in self.converters:
            ready[name] = convert(row.get(name))
        return ready

    def _write(self, rows: list[Row]) -> None:
        self._write_lines([orjson.dumps(self._arrow_ready(row)) + b"\n" for row in rows])

    def _write_lines(self, encoded: list[bytes]) -> None:
        """JSON lines whose JSON-typed fields are already text, parsed against the schema."""
        lines = b"".join(encoded)
        table = pa_json.read_json(
            io.BytesIO(lines),
            # One block for the whole batch: a row may not straddle two blocks.
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(lines) + 1),
            parse_options=self.parse_options,
        )
        columns = [table.column(name).combine_chunks() for name in self.columns]
        self.pending.append(pa.RecordBatch.from_arrays(columns, schema=self.schema))
        self.pending_rows += len(encoded)
        if self.pending_rows >= PARQUET_ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        table = pa.Table.from_batches(self.pending, schema=self.schema)
        self.pending, self.pending_rows = [], 0
        self.writer.write_table(table, row_group_size=table.num_rows)

    def _close(self) -> None:
        try:
            if not self._closed:
                self._flush()
        finally:
            self.writer.close()
