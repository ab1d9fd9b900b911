"""Writing one dataset export to files: the code behind the command and the job."""

import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import InvalidInput
from annotations.models import Project, Queue
from exports import sql_rows
from exports.cards import card_remove, card_stage, dataset_card
from exports.manifests import MANIFEST_NAME, manifest_build, manifest_stage
from exports.options import ExportOptions
from exports.rows import columns_for, rows_build
from exports.selectors import (
    export_items,
    export_pages,
    project_calls_tools,
    rubric_questions,
)
from exports.splits import split_for
from exports.writers import EXTENSIONS, DatasetWriter, StagedFile, WrittenFile, writer_open

ALL = "all"
# Progress(items read, rows written so far).
Progress = Callable[[int, int], None]


class ExportPathError(Exception):
    """The output path cannot be written; the message says why."""


def export_paths(*, output: Path, options: ExportOptions) -> tuple[Path, dict[str, Path]]:
    """(the directory holding data and manifest, {split name: data file})."""
    extension = EXTENSIONS[options.file_format]
    if options.split:
        return output, {name: output / f"{name}.{extension}" for name, _ in options.split}
    return output.parent, {ALL: output}


def _prepare_directory(directory: Path, *, create: bool) -> bool:
    """Make sure the directory exists; True when this call created it."""
    if directory.is_dir():
        return False
    if directory.exists():
        raise ExportPathError(f"{directory} exists and is not a directory")
    if not create:
        raise ExportPathError(f"the directory {directory} does not exist")
    try:
        directory.mkdir(parents=True)
    except OSError as error:
        raise ExportPathError(f"cannot create {directory}: {error.strerror or error}") from None
    return True


def _files_of_earlier_split_export(directory: Path, extension: str) -> set[str]:
    """The split files an earlier split export of ours wrote in the directory, as its
    manifest.json lists them: `<split>.<extension>` for each of its splits. A manifest
    of a single-file export, or one that some other tool wrote, names nothing here."""
    try:
        manifest = json.loads((directory / MANIFEST_NAME).read_text("utf-8"))
        splits = manifest["split"]
        listed = {entry["path"] for entry in manifest["files"]}
        ours = "schema_version" in manifest and "project" in manifest
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if not ours or not isinstance(splits, dict):
        return set()
    return {f"{name}.{extension}" for name in splits if isinstance(name, str)} & listed


def export_queue_check(*, project: Project, options: ExportOptions) -> None:
    queue_id = options.filters.get("queue")
    if queue_id and not Queue.objects.filter(project=project, pk=queue_id).exists():
        raise InvalidInput(
            _("No queue %(id)d in this project.") % {"id": queue_id},
            fields={"queue": [_("unknown queue")]},
        )


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the duration, as it was afterwards.

    An export allocates millions of small dicts and lists, all acyclic and freed by
    reference counting as soon as their page is written; the collector would
    otherwise walk every object of the page in hand each time a few hundred more are
    made, a quarter of the time of reading a page.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dataset_export(
    *,
    project: Project,
    options: ExportOptions,
    output: Path,
    progress: Progress | None = None,
    create_directories: bool = True,
) -> dict[str, Any]:
    """Write the export's data file(s) and manifest.json; returns the manifest.

    Rows stream page by page into per-split writers that write temporary files. When
    every row is written, every file is closed and the manifest (and a split export's
    dataset card) written under temporary names too; only then is anything renamed
    into place, the manifest last. On any error before that every temporary file is
    removed (and the split directory, if this call created it), and what an earlier
    export left stays as it was.
    """
    export_queue_check(project=project, options=options)
    output = Path(output)
    directory, paths = export_paths(output=output, options=options)
    if not options.split and output.is_dir():
        raise ExportPathError(f"{output} is a directory; give a file name (or use --split)")
    # Compared without case: on macOS and Windows the names are the same file.
    if not options.split and output.name.casefold() == MANIFEST_NAME.casefold():
        raise ExportPathError(
            f"{output.name} is the name of the manifest written beside the data; "
            "give the data file another name"
        )
    created = _prepare_directory(directory, create=create_directories or bool(options.split))
    columns = columns_for(options.kind, options.row_options)
    # The Arrow schema only where it is needed: Parquet files and dataset cards.
    schema = (
        _arrow_schema(project=project, options=options)
        if options.file_format == "parquet" or options.split
        else None
    )
    questions = rubric_questions(project=project)
    writers: dict[str, DatasetWriter] = {}
    staged: list[StagedFile] = []
    rubric_versions: set[int] = set()
    try:
        for name, path in paths.items():
            try:
                writers[name] = writer_open(
                    options.file_format, path, columns=columns, schema=schema
                )
            except OSError as error:
                raise ExportPathError(
                    f"cannot write in {path.parent}: {error.strerror or error}"
                ) from None
        with _cyclic_gc_paused():
            write = _write_database_rows if database_writes_rows(options) else _write_rows
            write(
                project=project,
                options=options,
                writers=writers,
                questions=questions,
                rubric_versions=rubric_versions,
                progress=progress,
            )
        # Every file complete before any replaces what an earlier export left: a full
        # disk closing the last split must not leave the first one new and the rest old.
        written: dict[str, WrittenFile] = {name: writer.close() for name, writer in writers.items()}
        manifest = manifest_build(
            project=project.slug,
            kind=options.kind,
            file_format=options.file_format,
            filters=options.filters,
            options={
                "redact_pii": options.redact_pii,
                "preference_format": options.preference_format,
                "sft_min_rating": options.sft_min_rating,
            },
            seed=options.seed if options.split else None,
            split=options.split,
            files=written,
            rubric_versions=sorted(rubric_versions),
            base=directory,
            created_at=timezone.now(),
        )
        card = None
        if options.split:
            # A dataset card goes beside the data of a split export (the schema is
            # built for every split export).
            card = dataset_card(
                schema=schema,
                file_format=options.file_format,
                files={name: path.name for name, path in paths.items()},
                manifest=manifest,
            )
            if card is not None and (staged_card := card_stage(card, directory)) is not None:
                staged.append(staged_card)
        staged.append(manifest_stage(manifest, directory))
        for writer in writers.values():
            writer.publish()
        if options.split:
            # The directory is the export's own: the files an earlier export listed
            # there and this one did not write go, and so does its card when this
            # export has none.
            written_names = {path.name for path in paths.values()}
            extension = EXTENSIONS[options.file_format]
            for stale in _files_of_earlier_split_export(directory, extension) - written_names:
                (directory / stale).unlink(missing_ok=True)
            if card is None:
                card_remove(directory)
        for staged_file in staged:
            staged_file.publish()
        return manifest
    except BaseException:
        for writer in writers.values():
            writer.abort()
        for staged_file in staged:
            staged_file.discard()
        if created:
            # Only when empty: another export may have written there meanwhile.
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def _arrow_schema(*, project: Project, options: ExportOptions) -> Any:
    """The kind's Arrow schema. Imported here: pyarrow takes about 40 MB of memory,
    which JSON Lines and CSV exports without a dataset card do without."""
    from exports.schemas import schema_for

    return schema_for(options.kind, options.row_options, tools=project_calls_tools(project=project))


def database_writes_rows(options: ExportOptions) -> bool:
    """Whether the database writes the export's rows (exports.sql_rows): raw and eval
    rows on PostgreSQL, unless PII is to be redacted (the redaction is Python's)."""
    return (
        connection.vendor == "postgresql"
        and options.kind in sql_rows.KINDS
        and not options.redact_pii
    )


def _write_rows(
    *,
    project: Project,
    options: ExportOptions,
    writers: dict[str, DatasetWriter],
    questions: dict[int, list[dict[str, Any]]],
    rubric_versions: set[int],
    progress: Progress | None,
) -> None:
    """Rows built in Python from the export items, page by page."""
    items_read = rows_written = 0
    for page in export_items(project=project, filters=options.filters, kind=options.kind):
        batches: dict[str, list[dict[str, Any]]] = {name: [] for name in writers}
        for item, row in rows_build(
            page,
            kind=options.kind,
            questions_by_version=questions,
            options=options.row_options,
            redact=options.redact_pii,
        ):
            name = (
                split_for(item["conversation_id"], options.seed, options.split)
                if options.split
                else ALL
            )
            batches[name].append(row)
            for annotation in item["annotations"]:
                rubric_versions.add(annotation["rubric_version"])
        for name, rows in batches.items():
            writers[name].write(rows)
            rows_written += len(rows)
        items_read += len(page)
        if progress is not None:
            progress(items_read, rows_written)


def _write_database_rows(
    *,
    project: Project,
    options: ExportOptions,
    writers: dict[str, DatasetWriter],
    questions: dict[int, list[dict[str, Any]]],
    rubric_versions: set[int],
    progress: Progress | None,
) -> None:
    """Rows written by the database (one per answer), completed and encoded here."""
    encoder = sql_rows.RowEncoder(options.kind, options.file_format, questions)
    sql = sql_rows.page_sql(options.kind, options.file_format)
    encode = encoder.encode
    # A row's first column after the lead ones is its conversation's external id.
    lead = sql_rows.LEAD
    seen_versions = None
    rows_written = 0
    pages = export_pages(
        project=project, filters=options.filters, sql=sql, binary=True, kind=options.kind
    )
    for page in pages:
        if options.split:
            batches: dict[str, list[Any]] = {name: [] for name in writers}
            for row in page:
                batches[split_for(row[lead], options.seed, options.split)].append(encode(row))
        else:
            batches = {ALL: [encode(row) for row in page]}
        for row in page:
            # The same labels' versions, answer after answer: parsed once.
            if row[1] != seen_versions and row[1]:
                seen_versions = row[1]
                rubric_versions.update(int(version) for version in seen_versions.split(","))
        for name, lines in batches.items():
            writers[name].write_lines(lines)
        rows_written += len(page)
        if progress is not None:
            progress(rows_written, rows_written)


class ThrottledProgress:
    """Calls `report` at most once per `interval` seconds (and always for the last call)."""

    def __init__(self, report: Progress, interval: float = 1.0) -> None:
        self.report = report
        self.interval = interval
        self.last = 0.0

    def __call__(self, items_read: int, rows_written: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self.report(items_read, rows_written)
