"""Streaming file writers for JSONL, CSV and Parquet.

Each writer writes to a hidden temporary file in the target directory and renames
it over the target only on commit, so a failed or interrupted export never leaves
a partial file under the real name. Rows arrive in batches; memory holds one batch
(one row group for Parquet).
"""

import contextlib
import csv
import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
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


class DatasetWriter:
    """Base: the temporary file, the rename on commit and the cleanup on abort."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.columns = schema.names
        self.rows = 0
        self.temp_path = path.parent / f".{path.name}.{uuid.uuid4().hex}.part"
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

    def commit(self) -> WrittenFile:
        self._close()
        self._closed = True
        os.replace(self.temp_path, self.path)
        return WrittenFile(
            path=self.path,
            rows=self.rows,
            bytes=self.path.stat().st_size,
            sha256=file_sha256(self.path),
        )

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
        self.handle.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))

    def _close(self) -> None:
        self.handle.close()


class CsvWriter(DatasetWriter):
    """A header row, then one line per row; lists and objects as JSON text."""

    def _open(self) -> None:
        self.handle: IO[str] = self.temp_path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(self.columns)

    def _write(self, rows: list[Row]) -> None:
        columns = self.columns
        self.writer.writerows(
            [
                [
                    ""
                    if (value := row.get(column)) is None
                    else _json_text(value)
                    if isinstance(value, dict | list | bool)
                    else value
                    for column in columns
                ]
                for row in rows
            ]
        )

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

    Each batch of rows becomes an Arrow record batch at once (compact columnar memory,
    not Python dicts); a row group is written when enough rows have gathered.
    """

    def _open(self) -> None:
        self.writer = pq.ParquetWriter(self.temp_path, self.schema, compression="zstd")
        self.converters = {field.name: _converter(field) for field in self.schema}
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0

    def _write(self, rows: list[Row]) -> None:
        columns = []
        for field in self.schema:
            values = [row.get(field.name) for row in rows]
            convert = self.converters[field.name]
            if convert is not None:
                values = [convert(value) for value in values]
            columns.append(pa.array(values, type=field.type))
        self.pending.append(pa.RecordBatch.from_arrays(columns, schema=self.schema))
        self.pending_rows += len(rows)
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
