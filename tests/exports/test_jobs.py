"""Export jobs: created queued, run once, failures recorded, a real worker on Redis;
deleted when finished, their files removed after the retention."""

import datetime
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as settings_module
from django.db import connection
from django.utils import timezone

from annotations.errors import Conflict, NotFound
from exports.downloads import export_job_download
from exports.models import ExportJob
from exports.options import export_options_clean
from exports.services.jobs import (
    export_job_create,
    export_job_delete,
    export_job_run,
    export_jobs_expire,
)
from exports.tasks import expire_export_jobs, run_export_job
from feedback_site.celery import app as celery_app
from tests.conftest import database_session, redis_url
from tests.exports.conftest import build_labeled_project
from tests.exports.readers import read_rows
from tests.workers import celery_worker_process

ROOT = Path(__file__).resolve().parents[2]


def options(kind="sft", file_format="jsonl", **raw):
    cleaned, errors = export_options_clean({"kind": kind, "format": file_format, **raw})
    assert errors == {}
    return cleaned


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_create_queues_the_job_and_enqueues_it_after_commit(
    labeled, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = export_job_create(project=labeled.project, options=options(model="gpt-4.1"))

    assert len(callbacks) == 1
    assert (job.status, job.kind, job.file_format) == ("queued", "sft", "jsonl")
    assert job.options["model"] == "gpt-4.1"


def test_run_writes_the_files_and_the_manifest(labeled, media):
    job = ExportJob.objects.create(
        project=labeled.project, kind="sft", file_format="jsonl", options=options().as_dict()
    )

    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert job.files == [f"exports/export-demo/{job.pk}/sft.jsonl"]
    assert job.row_counts == {"all": 4}
    # c4 (a model label and a down vote) cannot give an SFT row: it is not read.
    assert (job.rows_expected, job.rows_read, job.rows_written) == (4, 4, 4)
    assert job.progress_percent == 100
    assert len(read_rows(media / job.files[0], "jsonl", "sft")) == 4
    manifest = json.loads((media / job.directory / "manifest.json").read_text("utf-8"))
    assert manifest == job.manifest
    assert job.started_at <= job.finished_at


def test_a_succeeded_job_is_not_run_again(labeled, media):
    job = ExportJob.objects.create(
        project=labeled.project, kind="sft", file_format="jsonl", options=options().as_dict()
    )
    export_job_run(job_id=job.pk)
    finished_at = ExportJob.objects.get(pk=job.pk).finished_at

    export_job_run(job_id=job.pk)

    assert ExportJob.objects.get(pk=job.pk).finished_at == finished_at


def test_an_interrupted_job_runs_again_from_the_start(labeled, media):
    job = ExportJob.objects.create(
        project=labeled.project,
        kind="raw",
        file_format="csv",
        options=options("raw", "csv", split="train=0.5,test=0.5").as_dict(),
        status=ExportJob.Status.RUNNING,
        rows_read=3,
    )

    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert sorted(Path(name).name for name in job.files) == ["test.csv", "train.csv"]
    assert sum(job.row_counts.values()) == 5


def test_a_rerun_removes_what_dead_attempts_left(labeled, media):
    from exports.services.jobs import export_job_directory

    job = ExportJob.objects.create(
        project=labeled.project,
        kind="raw",
        file_format="parquet",
        options=options("raw", "parquet").as_dict(),
        status=ExportJob.Status.RUNNING,
    )
    directory = export_job_directory(job)
    directory.mkdir(parents=True)
    dead = directory / ".raw.parquet.0dead.part"
    live = directory / ".raw.parquet.1live.part"
    dead.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    an_hour_ago = time.time() - 3600
    os.utime(dead, (an_hour_ago, an_hour_ago))

    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    assert not dead.exists()
    # On PostgreSQL the attempt holds the job's lock, so no other attempt is alive and
    # every leftover goes; elsewhere a recently written file may be a live attempt's.
    assert live.exists() == (connection.vendor != "postgresql")


def test_a_failure_records_the_error_and_leaves_no_files(labeled, media, monkeypatch):
    job = ExportJob.objects.create(
        project=labeled.project,
        kind="raw",
        file_format="parquet",
        options=options("raw", "parquet").as_dict(),
    )

    def explode(self):
        raise OSError("No space left on device")

    monkeypatch.setattr("exports.parquet.ParquetWriter._flush", explode)
    job = export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "No space left on device"
    assert job.files == []
    assert job.finished_at is not None
    assert not (media / "exports" / "export-demo" / str(job.pk)).exists()


def test_options_that_no_longer_validate_fail_the_job(labeled, media):
    job = ExportJob.objects.create(
        project=labeled.project,
        kind="raw",
        file_format="jsonl",
        options={"kind": "raw", "format": "jsonl", "queue": 987654},
    )

    export_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "No queue 987654 in this project.")


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    queue = f"test-exports-{os.getpid()}-{time.time_ns()}"
    media = tmp_path / "media"
    with celery_worker_process(queue=queue, extra_env={"MEDIA_ROOT": str(media)}):
        yield queue, media


@pytest.mark.worker
def test_real_worker_runs_an_export_job_from_redis(celery_worker):
    queue, media = celery_worker
    labeled = build_labeled_project(slug="export-worker")
    job = ExportJob.objects.create(
        project=labeled.project,
        kind="eval",
        file_format="parquet",
        options=options("eval", "parquet", split="train=0.5,test=0.5").as_dict(),
    )
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        with celery_app.connection_for_write(redis_url()) as conn:
            run_export_job.apply_async(args=[job.pk], queue=queue, connection=conn)
    finally:
        celery_app.conf.task_always_eager = eager

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.25)

    assert job.status == ExportJob.Status.SUCCEEDED, job.error
    assert sum(job.row_counts.values()) == 5
    rows = [row for name in job.files for row in read_rows(media / name, "parquet", "eval")]
    assert sorted(row["conversation_id"] for row in rows) == ["c1", "c2", "c3", "c4", "c5"]
    assert (media / job.directory / "manifest.json").is_file()


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_job_waits_for_the_attempt_in_progress(media):
    """acks_late and a broker's visibility timeout can hand a job to a second worker
    while the first still runs: the second waits, then finds the job done."""
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks of PostgreSQL")
    import threading

    from exports.services.jobs import EXPORT_LOCK_CLASS

    labeled = build_labeled_project("redelivered")
    job = ExportJob.objects.create(
        project=labeled.project,
        kind="eval",
        file_format="jsonl",
        options=options("eval", "jsonl").as_dict(),
    )
    first = database_session(autocommit=True)
    first.execute("SELECT pg_advisory_lock(%s, %s)", [EXPORT_LOCK_CLASS, job.pk])
    finished = threading.Event()

    def second_attempt() -> None:
        try:
            export_job_run(job_id=job.pk)
        finally:
            connection.close()
            finished.set()

    thread = threading.Thread(target=second_attempt)
    thread.start()
    assert not finished.wait(1.0)  # waiting for the first attempt
    assert ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.QUEUED
    first.execute("SELECT pg_advisory_unlock(%s, %s)", [EXPORT_LOCK_CLASS, job.pk])
    first.close()
    thread.join(60)

    assert ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_the_job_lock_can_be_turned_off_for_a_transaction_pooler(media, settings):
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks of PostgreSQL")
    from exports.services.jobs import EXPORT_LOCK_CLASS

    settings.EXPORT_JOB_LOCK = False
    labeled = build_labeled_project("unlocked")
    job = ExportJob.objects.create(
        project=labeled.project,
        kind="eval",
        file_format="jsonl",
        options=options("eval", "jsonl").as_dict(),
    )
    with database_session(autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [EXPORT_LOCK_CLASS, job.pk])

        export_job_run(job_id=job.pk)  # would wait forever with the lock on

    assert ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.SUCCEEDED


def _succeeded(labeled, **raw):
    job = ExportJob.objects.create(
        project=labeled.project, kind="sft", file_format="jsonl", options=options(**raw).as_dict()
    )
    export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    return job


def test_delete_removes_a_finished_job_with_its_files(
    labeled, media, django_capture_on_commit_callbacks
):
    job = _succeeded(labeled)
    failed = ExportJob.objects.create(
        project=labeled.project, kind="raw", file_format="jsonl", options={"kind": "nope"}
    )
    export_job_run(job_id=failed.pk)
    directory = media / job.directory
    assert (directory / "manifest.json").is_file()

    with django_capture_on_commit_callbacks(execute=True):
        export_job_delete(job=job)
        export_job_delete(job=ExportJob.objects.get(pk=failed.pk))

    assert not ExportJob.objects.exists()
    assert not directory.exists()


@pytest.mark.parametrize("status", ["queued", "running"])
def test_a_job_that_has_not_finished_cannot_be_deleted(labeled, media, status):
    job = ExportJob.objects.create(
        project=labeled.project, kind="sft", file_format="jsonl", options=options().as_dict()
    )
    ExportJob.objects.filter(pk=job.pk).update(status=status)

    with pytest.raises(Conflict, match="once it has finished"):
        export_job_delete(job=job)

    assert ExportJob.objects.filter(pk=job.pk, status=status).exists()


def test_a_job_deleted_before_its_worker_came_is_not_run(labeled, media):
    job = ExportJob.objects.create(
        project=labeled.project, kind="sft", file_format="jsonl", options=options().as_dict()
    )
    ExportJob.objects.filter(pk=job.pk).delete()

    assert export_job_run(job_id=job.pk) is None
    assert run_export_job.apply(args=[job.pk]).get() == "deleted"
    assert not (media / "exports").exists()


def test_files_expire_after_the_retention_and_the_record_stays(
    labeled, media, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_RETENTION_DAYS = 30
    now = timezone.now()
    old, recent = _succeeded(labeled), _succeeded(labeled, split="train=0.5,test=0.5")
    ExportJob.objects.filter(pk=old.pk).update(finished_at=now - datetime.timedelta(days=31))
    ExportJob.objects.filter(pk=recent.pk).update(finished_at=now - datetime.timedelta(days=29))
    manifest = old.manifest

    with django_capture_on_commit_callbacks(execute=True):
        expired = export_jobs_expire(now=now)
    # Run again (the next night): nothing more to do.
    with django_capture_on_commit_callbacks(execute=True):
        again = export_jobs_expire(now=now)

    assert (expired, again) == (1, 0)
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, old.files, old.expired_at, old.manifest) == (
        "succeeded",
        [],
        now,
        manifest,
    )
    assert not (media / old.directory).exists()
    assert not old.is_downloadable
    with pytest.raises(NotFound, match=r"removed on .*, 31 days after it finished"):
        export_job_download(old)
    assert recent.expired_at is None and recent.is_downloadable
    assert all((media / name).is_file() for name in recent.files)


def test_a_retention_of_zero_keeps_every_export(labeled, media, settings):
    settings.EXPORT_RETENTION_DAYS = 0
    job = _succeeded(labeled)
    ExportJob.objects.filter(pk=job.pk).update(
        finished_at=timezone.now() - datetime.timedelta(3650)
    )

    assert export_jobs_expire() == 0
    assert expire_export_jobs.apply().get() == 0
    job.refresh_from_db()
    assert job.expired_at is None and (media / job.files[0]).is_file()


def test_the_expiry_runs_every_night():
    schedule = settings_module.CELERY_BEAT_SCHEDULE["expire-exports"]

    assert schedule["task"] == expire_export_jobs.name
    assert (schedule["schedule"].hour, schedule["schedule"].minute) == ({4}, {7})


def test_delete_and_expiry_remove_the_directory_the_job_was_written_to(
    labeled, media, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_RETENTION_DAYS = 1
    deleted, expired = _succeeded(labeled), _succeeded(labeled)
    written = [media / deleted.directory, media / expired.directory]
    # The project is renamed after the exports were written.
    labeled.project.slug = "renamed"
    labeled.project.save(update_fields=["slug"])
    ExportJob.objects.filter(pk=expired.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=2)
    )

    with django_capture_on_commit_callbacks(execute=True):
        export_job_delete(job=ExportJob.objects.get(pk=deleted.pk))
        assert export_jobs_expire() == 1

    assert all(directory.parent.name == "export-demo" for directory in written)
    assert not any(directory.exists() for directory in written)


def test_a_directory_outside_the_exports_is_never_removed(
    labeled, media, django_capture_on_commit_callbacks
):
    job = _succeeded(labeled)
    outside = media / "keep"
    outside.mkdir()
    ExportJob.objects.filter(pk=job.pk).update(directory="exports/../keep")

    with django_capture_on_commit_callbacks(execute=True):
        export_job_delete(job=job)

    assert outside.is_dir()
    assert not ExportJob.objects.filter(pk=job.pk).exists()


def test_deleting_a_job_deleted_meanwhile_is_not_found(labeled, media):
    job = _succeeded(labeled)
    stale = ExportJob.objects.get(pk=job.pk)
    export_job_delete(job=job)

    with pytest.raises(NotFound):
        export_job_delete(job=stale)


def test_an_attempt_whose_job_was_deleted_while_it_ran_leaves_no_files(labeled, media, monkeypatch):
    """Without the job lock a redelivered task can run beside the first attempt, which
    may finish and be deleted meanwhile: this attempt's files are then nobody's."""
    from exports.services import jobs

    job = ExportJob.objects.create(
        project=labeled.project, kind="sft", file_format="jsonl", options=options().as_dict()
    )
    real_export = jobs.dataset_export

    def export_then_lose_the_job(**arguments):
        manifest = real_export(**arguments)
        ExportJob.objects.filter(pk=job.pk).delete()
        return manifest

    monkeypatch.setattr(jobs, "dataset_export", export_then_lose_the_job)

    assert export_job_run(job_id=job.pk) is None
    assert not (media / "exports" / labeled.project.slug / str(job.pk)).exists()
