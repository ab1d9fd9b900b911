"""Streaming file writers for JSONL, CSV and Parquet.

Each writer writes to a hidden temporary file in the target directory, which is
closed (the last rows reach the disk) and only then renamed over the target, so a
failed or interrupted export never leaves a partial file under the real name. An
export of several files closes all of them before renaming any. Rows arrive in
batches; memory holds one batch (one row group for Parquet).
"""

import contextlib
import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("jsonl", "csv", "parquet")
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet"}

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


def json_text(value: Any) -> str:
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

    def __init__(
        self, path: Path, columns: Sequence[str], schema: "pa.Schema | None" = None
    ) -> None:
        self.path = path
        self.schema = schema
        self.columns = list(columns)
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

    def write_lines(self, lines: list[bytes]) -> None:
        """Rows already encoded for the format, in UTF-8 (see exports.sql_rows.RowEncoder):
        JSON lines for JSON Lines and Parquet, CSV records for CSV."""
        if lines:
            self._write_lines(lines)
            self.rows += len(lines)

    def _write_lines(self, lines: list[bytes]) -> None:
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
            sha256=self._sha256(),
        )

    def _sha256(self) -> str:
        """The finished file's SHA-256 (read back; writers that write every byte
        themselves hash as they write, see _BytesWriter)."""
        return file_sha256(self.temp_path)

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


class _BytesWriter(DatasetWriter):
    """A file whose every byte goes through _put, hashed on the way: reading a file of
    a gigabyte or more back for its SHA-256 took a second after the last row."""

    def _open(self) -> None:
        self.handle: IO[bytes] = self.temp_path.open("wb")
        self.digest = hashlib.sha256()

    def _put(self, data: bytes) -> None:
        self.digest.update(data)
        self.handle.write(data)

    def _write_lines(self, lines: list[bytes]) -> None:
        self._put(b"".join(lines))

    def _sha256(self) -> str:
        return self.digest.hexdigest()

    def _close(self) -> None:
        self.handle.close()


class JsonlWriter(_BytesWriter):
    """One JSON object a line, UTF-8, Korean and other text as it is (no \\u escapes)."""

    def _write(self, rows: list[Row]) -> None:
        self._write_lines([orjson.dumps(row) + b"\n" for row in rows])


NESTED = (dict, list, bool)


def csv_field(value: Any) -> str:
    """One CSV field as csv.writer writes it (excel dialect, minimal quoting), nested
    values as JSON text."""
    if value.__class__ is not str:
        if value is None:
            return ""
        if isinstance(value, NESTED):
            value = json_text(value)
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


class CsvWriter(_BytesWriter):
    """A header row, then one line per row; lists and objects as JSON text."""

    def _open(self) -> None:
        super()._open()
        self._put(csv_line(self.columns).encode())

    def _write(self, rows: list[Row]) -> None:
        columns = self.columns
        text = "".join([csv_line([row.get(column) for column in columns]) for row in rows])
        self._write_lines([text.encode()])


WRITERS: dict[str, type[DatasetWriter]] = {"jsonl": JsonlWriter, "csv": CsvWriter}


def writer_open(
    file_format: str, path: Path, *, columns: Sequence[str], schema: "pa.Schema | None" = None
) -> DatasetWriter:
    """A writer of the format; Parquet needs the Arrow schema (and loads pyarrow, which
    JSON Lines and CSV exports never do)."""
    if file_format == "parquet":
        from exports.parquet import ParquetWriter

        return ParquetWriter(path, columns, schema)
    return WRITERS[file_format](path, columns)
