"""Streaming file writers for JSONL, CSV and Parquet.

Each writer writes to a hidden temporary file in the target directory, which is
closed (the last rows reach the disk) and only then renamed over the target, so a
failed or interrupted export never leaves a partial file under the real name. An
export of several files closes all of them before renaming any. Rows arrive in
batches; memory holds one batch (one row group for Parquet).
"""

import contextlib
import hashlib
import io
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from exports.schemas import JSON

FORMATS = ("jsonl", "csv", "parquet")
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet"}
PARQUET_ROW_GROUP_ROWS = 20_000

Row = dict[str, Any]


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    bytes: int
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def temporary_path(path: Path) -> Path:
    """A hidden name beside `path` for the file until it is complete."""
    return path.parent / f".{path.name}.{uuid.uuid4().hex}.part"


@dataclass(frozen=True)
class StagedFile:
    """A complete file under a temporary name, waiting to be renamed over its target."""

    temp_path: Path
    path: Path

    def publish(self) -> None:
        os.replace(self.temp_path, self.path)

    def discard(self) -> None:
        self.temp_path.unlink(missing_ok=True)


def text_stage(text: str, path: Path) -> StagedFile:
    """The text written in full (UTF-8) under a temporary name beside `path`."""
    staged = StagedFile(temp_path=temporary_path(path), path=path)
    try:
        staged.temp_path.write_text(text, "utf-8")
    except BaseException:
        staged.discard()
        raise
    return staged


class DatasetWriter:
    """Base: the temporary file, closed then renamed into place, or removed on abort."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.columns = schema.names
        self.rows = 0
        self.temp_path = temporary_path(path)
        self._closed = False
        self._open()

    def _open(self) -> None:
        raise NotImplementedError

    def _write(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def write(self, rows: list[Row]) -> None:
        if rows:
            self._write(rows)
            self.rows += len(rows)

    def write_lines(self, lines: list[Any]) -> None:
        """Rows already encoded for the format (see exports.sql_rows.RowEncoder): bytes of
        JSON lines for JSON Lines and Parquet, text of CSV records for CSV."""
        if lines:
            self._write_lines(lines)
            self.rows += len(lines)

    def _write_lines(self, lines: list[Any]) -> None:
        raise NotImplementedError

    def close(self) -> WrittenFile:
        """Finish the temporary file (a full disk fails here, the last rows being
        written now) and describe it as it will be under its real name."""
        self._close()
        self._closed = True
        return WrittenFile(
            path=self.path,
            rows=self.rows,
            bytes=self.temp_path.stat().st_size,
            sha256=file_sha256(self.temp_path),
        )

    def publish(self) -> None:
        """Rename the closed temporary file over the target."""
        os.replace(self.temp_path, self.path)

    def commit(self) -> WrittenFile:
        written = self.close()
        self.publish()
        return written

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            # The file is removed either way.
            with contextlib.suppress(Exception):
                self._close()
        self.temp_path.unlink(missing_ok=True)


class JsonlWriter(DatasetWriter):
    """One JSON object a line, UTF-8, Korean and other text as it is (no \\u escapes)."""

    def _open(self) -> None:
        self.handle: IO[bytes] = self.temp_path.open("wb")

    def _write(self, rows: list[Row]) -> None:
        self._write_lines([orjson.dumps(row) + b"\n" for row in rows])

    def _write_lines(self, lines: list[bytes]) -> None:
        self.handle.write(b"".join(lines))

    def _close(self) -> None:
        self.handle.close()


NESTED = (dict, list, bool)


def csv_field(value: Any) -> str:
    """One CSV field as csv.writer writes it (excel dialect, minimal quoting), nested
    values as JSON text."""
    if value.__class__ is not str:
        if value is None:
            return ""
        if isinstance(value, NESTED):
            value = _json_text(value)
        elif isinstance(value, float):
            value = repr(value)
        else:
            value = str(value)
    # What csv.writer's default (excel) dialect quotes: the delimiter, the quote and
    # line breaks (four substring searches, not a set lookup per character).
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(values: list[Any]) -> str:
    """A CSV record with its \\r\\n terminator, as csv.writer writes it.

    Built with str methods: csv.writer walks every character in Python's C loop and
    takes several times longer on the long JSON fields of an export.
    """
    fields = list(map(csv_field, values))
    if fields == [""]:
        # A lone empty field is quoted, or the line would read as an empty record.
        return '""\r\n'
    return ",".join(fields) + "\r\n"


class CsvWriter(DatasetWriter):
    """A header row, then one line per row; lists and objects as JSON text."""

    def _open(self) -> None:
        self.handle: IO[str] = self.temp_path.open("w", encoding="utf-8", newline="")
        self.handle.write(csv_line(self.columns))

    def _write(self, rows: list[Row]) -> None:
        columns = self.columns
        self._write_lines([csv_line([row.get(column) for column in columns]) for row in rows])

    def _write_lines(self, lines: list[str]) -> None:
        self.handle.write("".join(lines))

    def _close(self) -> None:
        self.handle.close()


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
        return lambda value: value if value is None or isinstance(value, str) else _json_text(value)
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


class ParquetWriter(DatasetWriter):
    """Parquet with the kind's fixed schema, in row groups of a bounded size.

    Each batch of rows becomes Arrow columns at once (compact columnar memory, not
    Python dicts): serialized as JSON lines and parsed by Arrow's JSON reader against
    the schema, several times faster than converting nested Python values with
    pa.array. A row group is written when enough rows have gathered.
    """

    def _open(self) -> None:
        self.writer = pq.ParquetWriter(self.temp_path, self.schema, compression="zstd")
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


WRITERS: dict[str, type[DatasetWriter]] = {
    "jsonl": JsonlWriter,
    "csv": CsvWriter,
    "parquet": ParquetWriter,
}


def writer_open(file_format: str, path: Path, schema: pa.Schema) -> DatasetWriter:
    return WRITERS[file_format](path, schema)
