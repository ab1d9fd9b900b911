"""The manifest written beside every export: what was asked for and what came out."""

import datetime
import json
import os
from pathlib import Path
from typing import Any

from exports.rows import SCHEMA_VERSION
from exports.splits import Fractions
from exports.writers import StagedFile, WrittenFile, text_stage

MANIFEST_NAME = "manifest.json"


def manifest_build(
    *,
    project: str,
    kind: str,
    file_format: str,
    filters: dict[str, Any],
    options: dict[str, Any],
    seed: str | None,
    split: Fractions | None,
    files: dict[str, WrittenFile],
    rubric_versions: list[int],
    base: Path,
    created_at: datetime.datetime,
) -> dict[str, Any]:
    """The manifest as a dict. `files` maps a split name ("all" without a split) to
    the file written for it; paths are given relative to `base`."""
    total = sum(written.rows for written in files.values())
    rows = {name: written.rows for name, written in files.items()}
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "project": project,
        "kind": kind,
        "format": file_format,
        "filters": filters,
        "options": options,
        "seed": seed,
        "split": {name: fraction for name, fraction in split} if split else None,
        "rows": rows,
        "rows_total": total,
        "proportions": {
            name: round(count / total, 6) if total else 0.0 for name, count in rows.items()
        },
        "rubric_versions": sorted(rubric_versions),
        "created_at": created_at.isoformat(),
        "files": [
            {
                "split": name if split else None,
                "path": os.path.relpath(written.path, base),
                "rows": written.rows,
                "bytes": written.bytes,
                "sha256": written.sha256,
            }
            for name, written in files.items()
        ],
    }
    return manifest


def manifest_stage(manifest: dict[str, Any], directory: Path) -> StagedFile:
    """manifest.json for the directory, written in full under a temporary name: it is
    renamed into place after the data files it describes."""
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    return text_stage(text, directory / MANIFEST_NAME)
