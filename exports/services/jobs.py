"""Export jobs: creating one (queued for a worker), running it, deleting it, and
removing the files of old ones."""

import contextlib
import datetime
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from annotations.errors import Conflict, InvalidInput, NotFound
from annotations.models import Project, ProjectKey
from exports.models import ExportJob
from exports.options import ExportOptions, export_options_clean
from exports.selectors import export_count
from exports.services.dataset import (
    ThrottledProgress,
    dataset_export,
    export_paths,
    export_queue_check,
)
from exports.writers import EXTENSIONS

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000
# Raised again so that the task retries; anything else is final.
TRANSIENT_ERRORS = (OperationalError, ConnectionError)


def export_job_directory(job: ExportJob) -> Path:
    """Where a job's files go: MEDIA_ROOT/exports/<project slug>/<job id>/."""
    return Path(settings.MEDIA_ROOT) / "exports" / job.project.slug / str(job.pk)


@transaction.atomic
def export_job_create(
    *,
    project: Project,
    options: ExportOptions,
    created_by: AbstractBaseUser | None = None,
    created_by_key: ProjectKey | None = None,
) -> ExportJob:
    """Queue an export; a worker runs it once the transaction commits."""
    from exports.tasks import run_export_job

    export_queue_check(project=project, options=options)
    job = ExportJob.objects.create(
        project=project,
        kind=options.kind,
        file_format=options.file_format,
        options=options.as_dict(),
        created_by=created_by,
        created_by_key=created_by_key,
    )
    transaction.on_commit(lambda: run_export_job.delay(job.pk))
    return job


# Without a lock that tells a live attempt from a dead one (SQLite), a temporary file
# untouched this long is taken as left by an attempt that died.
STALE_TEMPORARY_SECONDS = 15 * 60
# The first key of the advisory locks of export jobs (the second is the job's id).
EXPORT_LOCK_CLASS = 0x45585054  # "EXPT"


@contextlib.contextmanager
def _one_attempt_at_a_time(job_id: int) -> Iterator[bool]:
    """Hold the job's lock for the attempt: yields True when attempts are serialized.

    A task redelivered while its first attempt still runs (acks_late, and a broker's
    visibility timeout shorter than a long export) waits here for that attempt to end:
    it then finds the job done, or, if that attempt's worker died, whose lock went with
    its database session, runs it again. On PostgreSQL, a session-level advisory lock
    (settings.EXPORT_JOB_LOCK turns it off, for a transaction-pooling PgBouncer).
    """
    if connection.vendor != "postgresql" or not settings.EXPORT_JOB_LOCK:
        yield False
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [EXPORT_LOCK_CLASS, job_id])
    try:
        yield True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [EXPORT_LOCK_CLASS, job_id])


def _remove_temporary_files(directory: Path, *, alone: bool) -> None:
    """Delete the half-written files of earlier attempts that died: all of them when
    this attempt holds the job's lock, else only those untouched for a while."""
    if not directory.is_dir():
        return
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for path in directory.glob(".*.part"):
        with contextlib.suppress(FileNotFoundError):
            if alone or path.stat().st_mtime < cutoff:
                path.unlink()


def _update(job: ExportJob, **fields: Any) -> bool:
    """Set the fields on the job and its row; False when the row is gone (deleted)."""
    for name, value in fields.items():
        setattr(job, name, value)
    return ExportJob.objects.filter(pk=job.pk).update(**fields) > 0


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Run a queued (or interrupted) export job; a job that succeeded is left as it is,
    and a job deleted meanwhile is not run (None).

    One attempt at a time (see _one_attempt_at_a_time). The data files replace any
    left by an interrupted attempt. On failure the error is recorded, the job's
    directory is removed and the job lists no files; transient database and
    connection errors are raised again for the task to retry.
    """
    with _one_attempt_at_a_time(job_id) as alone:
        return _run(job_id=job_id, alone=alone)


def _run(*, job_id: int, alone: bool) -> ExportJob | None:
    with transaction.atomic():
        job = (
            ExportJob.objects.select_for_update().select_related("project").filter(pk=job_id)
        ).first()
        if job is None:
            logger.info("export job %s was deleted before it ran", job_id)
            return None
        if job.status == ExportJob.Status.SUCCEEDED:
            return job
        _update(
            job,
            status=ExportJob.Status.RUNNING,
            started_at=timezone.now(),
            finished_at=None,
            error="",
            files=[],
            manifest=None,
            row_counts={},
            rows_read=0,
            rows_written=0,
        )
    directory = export_job_directory(job)
    _remove_temporary_files(directory, alone=alone)
    try:
        options, errors = export_options_clean(job.options)
        if options is None:
            raise InvalidInput("The export options are not valid.", fields=errors)
        _update(
            job,
            rows_expected=export_count(
                project=job.project, filters=options.filters, kind=options.kind
            ),
        )
        output = (
            directory
            if options.split
            else directory / f"{options.kind}.{EXTENSIONS[options.file_format]}"
        )
        _, paths = export_paths(output=output, options=options)
        manifest = dataset_export(
            project=job.project,
            options=options,
            output=output,
            progress=ThrottledProgress(
                lambda read, written: _update(job, rows_read=read, rows_written=written)
            ),
        )
    except Exception as error:
        logger.exception("export job %s failed", job.pk)
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        _update(
            job,
            status=ExportJob.Status.FAILED,
            error=message[:ERROR_MAX_CHARS],
            files=[],
            finished_at=timezone.now(),
        )
        shutil.rmtree(directory, ignore_errors=True)
        if isinstance(error, TRANSIENT_ERRORS):
            raise
        return job
    media_root = Path(settings.MEDIA_ROOT)
    recorded = _update(
        job,
        status=ExportJob.Status.SUCCEEDED,
        directory=str(directory.relative_to(media_root)),
        files=[str(path.relative_to(media_root)) for path in paths.values()],
        manifest=manifest,
        row_counts=manifest["rows"],
        rows_read=job.rows_expected or manifest["rows_total"],
        rows_written=manifest["rows_total"],
        finished_at=timezone.now(),
    )
    if not recorded:
        # Deleted while this attempt ran (possible only without the job lock, when a
        # redelivered task runs beside the first attempt): nobody lists these files.
        logger.info("export job %s was deleted while it ran; its files go too", job.pk)
        shutil.rmtree(directory, ignore_errors=True)
        return None
    return job


def _remove_directory(job: ExportJob) -> None:
    """The job's directory and everything in it, once the transaction has committed (a
    rollback leaves the files the job still lists). The directory it was written to,
    as recorded (the project's slug may have changed since), else where it would be."""
    exports_root = (Path(settings.MEDIA_ROOT) / "exports").resolve()
    directory = (
        Path(settings.MEDIA_ROOT) / job.directory if job.directory else export_job_directory(job)
    )
    if exports_root not in directory.resolve().parents:
        logger.error("export job %s: refusing to remove %s", job.pk, directory)
        return
    transaction.on_commit(lambda: shutil.rmtree(directory, ignore_errors=True))


@transaction.atomic
def export_job_delete(*, job: ExportJob) -> None:
    """Delete a finished export job with its files and manifest; Conflict while it is
    queued or running (its worker would write files nobody lists)."""
    locked = (
        ExportJob.objects.select_for_update().select_related("project").filter(pk=job.pk)
    ).first()
    if locked is None:
        # Deleted by another request meanwhile.
        raise NotFound(f"No export {job.pk} in this project.")
    if not locked.is_finished:
        raise Conflict(
            f"Export {locked.pk} is {locked.status}; it can be deleted once it has finished."
        )
    _remove_directory(locked)
    locked.delete()


def export_jobs_expire(*, now: datetime.datetime | None = None) -> int:
    """Remove the files of the exports that succeeded more than EXPORT_RETENTION_DAYS
    ago (none when it is 0); each job keeps its record and manifest, with expired_at
    set. Returns how many expired."""
    days = settings.EXPORT_RETENTION_DAYS
    if not days:
        return 0
    now = now or timezone.now()
    due = ExportJob.objects.filter(
        status=ExportJob.Status.SUCCEEDED,
        expired_at__isnull=True,
        finished_at__lt=now - datetime.timedelta(days=days),
    ).values_list("pk", flat=True)
    expired = 0
    for job_id in list(due):
        with transaction.atomic():
            job = (
                ExportJob.objects.select_for_update()
                .select_related("project")
                .filter(pk=job_id, expired_at__isnull=True)
                .first()
            )
            if job is None:
                continue
            _update(job, files=[], expired_at=now)
            _remove_directory(job)
        expired += 1
    return expired
