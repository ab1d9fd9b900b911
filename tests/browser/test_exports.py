"""The Export page in a real browser, with a real Celery worker on Redis: a project admin
starts an export, the page follows its progress, the file downloads, and the export is
deleted."""

import csv
import io
import os
import time
import zipfile
from pathlib import Path

import pytest

import exports.tasks
from annotations.models import Membership
from annotations.services.projects import membership_set
from exports.models import ExportJob
from feedback_site.celery import app as celery_app
from tests.browser.test_labeling import login
from tests.conftest import redis_reachable, redis_url, require
from tests.exports.conftest import build_labeled_project
from tests.factories import UserFactory
from tests.workers import celery_worker_process

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class _ToTheTestWorker:
    """The export task as export_job_create sends it (`delay`), put on this test's own
    queue in Redis, where the worker started by the test takes it."""

    def __init__(self, task, queue: str) -> None:
        self.task = task
        self.queue = queue

    def delay(self, job_id: int) -> None:
        with celery_app.connection_for_write(redis_url()) as connection:
            self.task.apply_async(args=[job_id], queue=self.queue, connection=connection)


@pytest.fixture
def worker_queue(tmp_path, settings, monkeypatch):
    """This test's queue in Redis, where export_job_create's task goes; the test starts
    the worker that takes it."""
    broker = redis_url()
    require(redis_reachable(broker), f"Redis is not reachable at {broker}")
    queue = f"test-export-page-{os.getpid()}-{time.time_ns()}"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setattr(
        exports.tasks, "run_export_job", _ToTheTestWorker(exports.tasks.run_export_job, queue)
    )
    return queue


def test_an_export_started_on_the_page_is_followed_and_downloaded(
    page, live_server, worker_queue, settings
):
    labeled = build_labeled_project(slug="export-page")
    lead = UserFactory(username="lead")
    membership_set(project=labeled.project, user=lead, role=Membership.Role.ADMIN)
    login(page, live_server, lead)

    page.goto(f"{live_server.url}/p/export-page/exports/")
    page.select_option("select[name=kind]", "eval")
    page.select_option("select[name=format]", "csv")
    page.fill("input[name=split]", "train=0.5,test=0.5")
    page.get_by_role("button", name="Start export").click()

    # Listed at once, queued: no worker runs yet, and the list polls for news.
    row = page.locator("#export-jobs tbody tr").first
    row.wait_for()
    assert "Queued" in row.inner_text()
    assert page.locator("#export-jobs").get_attribute("hx-trigger") == "every 2s"
    job = ExportJob.objects.get(project=labeled.project)
    assert (job.kind, job.file_format, job.status) == ("eval", "csv", "queued")

    with celery_worker_process(queue=worker_queue, extra_env={"MEDIA_ROOT": settings.MEDIA_ROOT}):
        download_link = row.get_by_role("link", name="Download")
        download_link.wait_for(timeout=60_000)
    # Done: the counts per split are shown, and the list stops polling.
    assert "train" in row.inner_text() and "test" in row.inner_text()
    assert page.locator("#export-jobs").get_attribute("hx-trigger") is None

    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED
    # A split export downloads as one archive of its files and manifest.
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.path()) as archive:
        names = archive.namelist()
        assert "manifest.json" in names
        rows = [
            row
            for name in names
            if name.endswith(".csv")
            for row in csv.DictReader(io.StringIO(archive.read(name).decode("utf-8")))
        ]
    assert sorted(row["conversation_id"] for row in rows) == ["c1", "c2", "c3", "c4", "c5"]
    assert {"user_input", "response", "retrieved_contexts", "reference"} <= set(rows[0])

    # Deleted after confirming: gone from the list, the database and the disk.
    page.accept_dialogs = True
    page.locator("#export-jobs tbody tr").first.get_by_role("button", name="Delete").click()
    page.get_by_text("No exports yet.").wait_for()
    assert page.dialogs == [f"Delete export {job.pk} and its files?"]
    assert not ExportJob.objects.filter(pk=job.pk).exists()
    assert not (Path(settings.MEDIA_ROOT) / job.directory).exists()
