"""The export API: start a job (202), follow it, download it; scoped to the key's project."""

import contextlib
import io
import json
import os
import zipfile

import pytest
from django.utils import timezone

from exports.models import ExportJob
from exports.services.jobs import export_job_run
from tests.conftest import ApiClient
from tests.exports.readers import read_rows
from tests.factories import ProjectFactory


@pytest.fixture
def exports_api(labeled, make_api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return make_api(project=labeled.project)


def test_post_queues_a_job_and_answers_202(
    exports_api, labeled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = exports_api.post(
            "/api/v1/exports/",
            {
                "kind": "eval",
                "format": "parquet",
                "filters": {"tags": ["beta"], "since": "2020-01-01", "gold_only": True},
                "split": {"train": 0.9, "test": 0.1},
                "seed": 7,
                "redact_pii": True,
            },
        )

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["kind"], body["format"]) == ("queued", "eval", "parquet")
    assert body["options"]["split"] == "train=0.9,test=0.1"
    assert body["options"]["seed"] == "7"
    assert body["options"]["tags"] == ["beta"]
    assert body["download_url"] is None
    assert len(callbacks) == 1
    job = ExportJob.objects.get(pk=body["id"])
    assert job.created_by_key is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "dpo", "format": "jsonl"}, "kind"),
        ({"kind": "raw", "format": "xlsx"}, "format"),
        ({"kind": "raw", "format": "jsonl", "split": "train=0.7"}, "split"),
        ({"kind": "raw", "format": "jsonl", "filters": {"since": "soon"}}, "filters.since"),
        ({"kind": "raw", "format": "jsonl", "filters": {"limit": 0}}, "filters.limit"),
        ({"kind": "raw", "format": "jsonl", "filters": {"queue": 424242}}, "filters.queue"),
        ({"kind": "raw", "format": "jsonl", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_requests_name_the_field(exports_api, body, field):
    response = exports_api.post("/api/v1/exports/", body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert not ExportJob.objects.exists()


def test_get_shows_progress_and_the_manifest(exports_api, labeled):
    job_id = exports_api.post("/api/v1/exports/", {"kind": "sft", "format": "jsonl"}).json()["id"]
    export_job_run(job_id=job_id)

    body = exports_api.get(f"/api/v1/exports/{job_id}/").json()

    assert body["status"] == "succeeded"
    assert body["rows"] == {"all": 4}
    assert body["files"] == ["sft.jsonl"]
    assert body["progress"] == {
        "percent": 100,
        "answers_read": 4,
        "answers_expected": 4,
        "rows_written": 4,
    }
    assert body["manifest"]["kind"] == "sft"
    assert body["download_url"] == f"/api/v1/exports/{job_id}/download/"


def test_download_streams_the_file(exports_api, tmp_path):
    job_id = exports_api.post("/api/v1/exports/", {"kind": "sft", "format": "jsonl"}).json()["id"]
    export_job_run(job_id=job_id)

    response = exports_api.get(f"/api/v1/exports/{job_id}/download/")

    assert response.status_code == 200
    assert "sft.jsonl" in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 4
    assert json.loads(lines[0])["messages"][-1]["role"] == "assistant"


def test_download_ignores_what_the_client_accepts(exports_api):
    job_id = exports_api.post("/api/v1/exports/", {"kind": "sft", "format": "jsonl"}).json()["id"]
    export_job_run(job_id=job_id)

    response = exports_api.get(
        f"/api/v1/exports/{job_id}/download/", headers={"Accept": "application/octet-stream"}
    )

    assert response.status_code == 200
    assert len(b"".join(response.streaming_content).splitlines()) == 4


def test_download_of_a_split_is_a_zip_with_the_manifest(exports_api, tmp_path):
    job_id = exports_api.post(
        "/api/v1/exports/", {"kind": "raw", "format": "csv", "split": "train=0.5,test=0.5"}
    ).json()["id"]
    export_job_run(job_id=job_id)

    response = exports_api.get(f"/api/v1/exports/{job_id}/download/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["README.md", "manifest.json", "test.csv", "train.csv"]
    # Dated when written, not 1980-01-01.
    assert all(info.date_time[0] >= 2024 for info in archive.infolist())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["rows_total"] == 5
    extracted = tmp_path / "unzipped"
    archive.extractall(extracted)
    rows = read_rows(extracted / "train.csv", "csv", "raw") + read_rows(
        extracted / "test.csv", "csv", "raw"
    )
    assert len(rows) == 5


def test_download_before_the_job_finished_is_a_conflict(exports_api):
    job_id = exports_api.post("/api/v1/exports/", {"kind": "raw", "format": "jsonl"}).json()["id"]

    response = exports_api.get(f"/api/v1/exports/{job_id}/download/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_other_projects_jobs_are_not_found(exports_api, make_api):
    job_id = exports_api.post("/api/v1/exports/", {"kind": "raw", "format": "jsonl"}).json()["id"]
    other = make_api(project=ProjectFactory(slug="other"))

    assert other.get(f"/api/v1/exports/{job_id}/").status_code == 404
    assert other.get(f"/api/v1/exports/{job_id}/download/").status_code == 404
    assert other.get("/api/v1/exports/999999/").json()["error"]["code"] == "not_found"


def test_a_key_is_required(labeled):
    anonymous = ApiClient(None)

    response = anonymous.post("/api/v1/exports/", {"kind": "raw", "format": "jsonl"})

    assert response.status_code in (401, 403)


def test_delete_removes_a_finished_job_and_its_files(
    exports_api, tmp_path, django_capture_on_commit_callbacks
):
    job_id = exports_api.post("/api/v1/exports/", {"kind": "raw", "format": "jsonl"}).json()["id"]
    # Not finished: refused, and the job stays.
    refused = exports_api.delete(f"/api/v1/exports/{job_id}/")
    export_job_run(job_id=job_id)
    directory = tmp_path / ExportJob.objects.get(pk=job_id).directory

    with django_capture_on_commit_callbacks(execute=True):
        response = exports_api.delete(f"/api/v1/exports/{job_id}/")

    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "conflict")
    assert response.status_code == 204
    assert not ExportJob.objects.filter(pk=job_id).exists()
    assert not directory.exists()
    assert exports_api.get(f"/api/v1/exports/{job_id}/").status_code == 404
    assert exports_api.delete(f"/api/v1/exports/{job_id}/").status_code == 404


def test_another_projects_key_cannot_delete_a_job(exports_api, make_api):
    job_id = exports_api.post("/api/v1/exports/", {"kind": "raw", "format": "jsonl"}).json()["id"]
    export_job_run(job_id=job_id)
    other = make_api(project=ProjectFactory(slug="other"))

    assert other.delete(f"/api/v1/exports/{job_id}/").status_code == 404
    assert ExportJob.objects.filter(pk=job_id).exists()


def test_an_expired_export_says_so_and_offers_no_download(exports_api):
    job_id = exports_api.post("/api/v1/exports/", {"kind": "raw", "format": "jsonl"}).json()["id"]
    export_job_run(job_id=job_id)
    ExportJob.objects.filter(pk=job_id).update(files=[], expired_at=timezone.now())

    body = exports_api.get(f"/api/v1/exports/{job_id}/").json()
    download = exports_api.get(f"/api/v1/exports/{job_id}/download/")

    assert body["status"] == "succeeded"
    assert body["expired_at"] is not None and body["download_url"] is None
    assert body["manifest"]["rows_total"] == 5
    assert download.status_code == 404
    assert "were removed on" in download.json()["error"]["message"]


def test_a_download_under_way_stays_whole_when_the_export_is_deleted(
    exports_api, tmp_path, django_capture_on_commit_callbacks
):
    job_id = exports_api.post(
        "/api/v1/exports/", {"kind": "raw", "format": "csv", "split": "train=0.5,test=0.5"}
    ).json()["id"]
    export_job_run(job_id=job_id)
    directory = tmp_path / ExportJob.objects.get(pk=job_id).directory
    response = exports_api.get(f"/api/v1/exports/{job_id}/download/")
    first = next(iter(response.streaming_content))

    with django_capture_on_commit_callbacks(execute=True):
        exports_api.delete(f"/api/v1/exports/{job_id}/")
    held = _open_files_under(directory)
    # (The test client closes the response once it is read to the end.)
    rest = b"".join(response.streaming_content)

    assert not directory.exists()
    archive = zipfile.ZipFile(io.BytesIO(first + rest))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == ["README.md", "manifest.json", "test.csv", "train.csv"]
    # The files were held open while the response was sent, then let go.
    assert len(held) == 4
    assert _open_files_under(directory) == []


def _open_files_under(directory):
    """This process's open files under the directory (Linux: /proc/self/fd)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(directory) + "/"):
                found.append(fd)
    return found


def test_the_project_s_jobs_are_listed_newest_first(exports_api, make_api):
    first = exports_api.post("/api/v1/exports/", {"kind": "raw", "format": "jsonl"}).json()["id"]
    second = exports_api.post("/api/v1/exports/", {"kind": "sft", "format": "csv"}).json()["id"]
    export_job_run(job_id=first)
    other = make_api(project=ProjectFactory(slug="other"))
    other.post("/api/v1/exports/", {"kind": "raw", "format": "jsonl"})

    listed = exports_api.get("/api/v1/exports/").json()
    done = exports_api.get("/api/v1/exports/?status=succeeded").json()
    one = exports_api.get("/api/v1/exports/?limit=1").json()

    assert [job["id"] for job in listed] == [second, first]
    assert [job["id"] for job in done] == [first]
    assert done[0]["download_url"] == f"/api/v1/exports/{first}/download/"
    assert [job["id"] for job in one] == [second]
    assert len(other.get("/api/v1/exports/").json()) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=done", "status"), ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit")],
)
def test_a_bad_list_query_names_the_parameter(exports_api, query, field):
    response = exports_api.get(f"/api/v1/exports/?{query}")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
