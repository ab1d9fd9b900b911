"""Read exported files back into plain rows, whatever the format."""

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from exports.rows import RowOptions
from exports.schemas import JSON, schema_for

# Struct fields that rows leave out where they do not apply, and Parquet holds as null.
OMITTED_WHEN_NULL = {"weight", "tool_calls", "tool_call_id"}


def _decode_json_fields(value: Any, field: pa.Field) -> Any:
    if value is None:
        return None
    if field.metadata == JSON:
        return json.loads(value)
    if pa.types.is_list(field.type):
        return [_decode_json_fields(element, field.type.value_field) for element in value]
    if pa.types.is_struct(field.type):
        return {
            child.name: _decode_json_fields(value[child.name], child)
            for child in field.type
            if not (child.name in OMITTED_WHEN_NULL and value[child.name] is None)
        }
    return value


def _csv_value(text: str, field: pa.Field) -> Any:
    if field.metadata == JSON:
        return json.loads(text) if text else None
    if pa.types.is_string(field.type):
        return text
    if text == "":
        return None
    if pa.types.is_integer(field.type):
        return int(text)
    if pa.types.is_floating(field.type):
        return float(text)
    return json.loads(text)


def read_rows(
    path: Path, file_format: str, kind: str, options: RowOptions | None = None
) -> list[dict[str, Any]]:
    schema = schema_for(kind, options or RowOptions())
    if file_format == "jsonl":
        with path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]
    if file_format == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            assert reader.fieldnames == schema.names
            return [
                {field.name: _csv_value(row[field.name], field) for field in schema}
                for row in reader
            ]
    table = pq.read_table(path)
    assert table.schema.names == schema.names
    return [
        {field.name: _decode_json_fields(row[field.name], field) for field in schema}
        for row in table.to_pylist()
    ]
