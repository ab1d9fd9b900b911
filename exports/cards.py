"""A Hugging Face dataset card (README.md) for a split export's directory.

`datasets` types a JSON Lines or CSV file by its first block of rows (about 10 MB):
a column empty there (no contexts yet, no reference, no labels) is typed null, and
loading stops at the first later row that holds a value. The card's YAML header
declares every column's type and maps each split to its file, so that
`load_dataset("path/to/export")` reads an export of any size with the right types
and split names. JSON Lines cards type the answer maps whose keys depend on the
rubric as `json` (datasets 5 and later); in CSV and Parquet they are JSON strings.
"""

import functools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exports.writers import StagedFile, text_stage

if TYPE_CHECKING:
    import pyarrow as pa

CARD_NAME = "README.md"
# Marks a card as written by an export: only such a README.md is ever replaced.
CARD_MARK = "<!-- feedback-site export dataset card -->"
# The split names `datasets` accepts.
HF_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")


@functools.cache
def _scalars() -> dict[Any, str]:
    # Imported here: only split exports write a card, JSON Lines and CSV ones otherwise
    # never load pyarrow.
    import pyarrow as pa

    return {
        pa.string(): "string",
        pa.int64(): "int64",
        pa.float64(): "float64",
        pa.bool_(): "bool",
    }


def _is_json(field: "pa.Field") -> bool:
    return bool(field.metadata and field.metadata.get(b"json") == b"true")


def _type_entry(field: "pa.Field", file_format: str) -> dict[str, Any]:
    """The card entry for a field, without its name: {"dtype": ...}, {"list": ...} or
    {"struct": [...]}."""
    import pyarrow as pa

    kind = field.type
    if _is_json(field):
        return {"dtype": "json" if file_format == "jsonl" else "string"}
    if file_format == "csv" and (pa.types.is_list(kind) or pa.types.is_struct(kind)):
        # CSV holds nested values as JSON text.
        return {"dtype": "string"}
    if pa.types.is_list(kind):
        inner = _type_entry(kind.value_field, file_format)
        if "dtype" in inner:
            return {"list": inner["dtype"]}
        if "struct" in inner:
            return {"list": inner["struct"]}
        return {"list": [inner]}
    if pa.types.is_struct(kind):
        return {
            "struct": [_named(kind.field(index), file_format) for index in range(kind.num_fields)]
        }
    return {"dtype": _scalars()[kind]}


def _named(field: "pa.Field", file_format: str) -> dict[str, Any]:
    return {"name": field.name, **_type_entry(field, file_format)}


def card_features(schema: "pa.Schema", file_format: str) -> list[dict[str, Any]]:
    """`dataset_info.features` of the card, in the YAML list form `datasets` reads."""
    return [_named(field, file_format) for field in schema]


def _yaml(value: Any, indent: int = 0) -> list[str]:
    """Block YAML for nested lists and dicts of strings (JSON scalars are YAML)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                lines.append(f"{pad}{key}:")
                lines.extend(_yaml(item, indent + 2))
            else:
                lines.append(f"{pad}{key}: {json.dumps(item, ensure_ascii=False)}")
    else:
        for item in value:
            if isinstance(item, dict | list):
                nested = _yaml(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines.extend(nested[1:])
            else:
                lines.append(f"{pad}- {json.dumps(item, ensure_ascii=False)}")
    return lines


def dataset_card(
    *, schema: "pa.Schema", file_format: str, files: dict[str, str], manifest: dict[str, Any]
) -> str | None:
    """The card's text for {split name: file name}; None when a split name is one
    `datasets` refuses (it allows letters, digits, "_" and dots) or no split has rows.

    Splits without rows are left out of the card's data files: `datasets` refuses to
    load a split that "corresponds to no data", and with it the whole directory.
    """
    if not all(HF_SPLIT_NAME.match(name) for name in files):
        return None
    loadable = {name: path for name, path in files.items() if manifest["rows"].get(name, 0)}
    if not loadable:
        return None
    header = {
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": name, "path": path} for name, path in loadable.items()],
            }
        ],
        "dataset_info": {"features": card_features(schema, file_format)},
    }
    counts = ", ".join(f"{name} {manifest['rows'].get(name, 0):,}" for name in files)
    body = (
        f"# {manifest['project']}: {manifest['kind']} export\n\n"
        f"Exported by feedback-site on {manifest['created_at']} as {file_format}, schema "
        f"version {manifest['schema_version']}; rows per split: {counts}. `manifest.json` "
        "lists the filters, the seed and each file's SHA-256.\n\n"
        "```python\nfrom datasets import load_dataset\n\n"
        'dataset = load_dataset("path/to/this/directory")\n```\n'
    )
    return "---\n" + "\n".join(_yaml(header)) + "\n---\n" + CARD_MARK + "\n\n" + body


def _ours(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            return CARD_MARK in file.read(4096)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def card_stage(text: str, directory: Path) -> StagedFile | None:
    """README.md for the directory, written in full under a temporary name (renamed into
    place with the data); None when the README.md there is not one of ours, which is
    left alone."""
    path = directory / CARD_NAME
    if not _ours(path):
        return None
    return text_stage(text, path)


def card_remove(directory: Path) -> None:
    """Remove the card an earlier export left in the directory (never a README.md that
    is not one of ours)."""
    path = directory / CARD_NAME
    if _ours(path):
        path.unlink(missing_ok=True)
