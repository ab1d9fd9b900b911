"""The Export page: project admins only; start a job, see it, download it."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from annotations.models import Membership
from exports.models import ExportJob
from exports.services.jobs import export_job_run
from tests.factories import MembershipFactory


def member(project, role):
    user = get_user_model().objects.create(username=f"{role}-user")
    MembershipFactory(project=project, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(labeled, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return member(labeled.project, Membership.Role.ADMIN)


def test_page_offers_kinds_formats_and_the_project_queues(admin, labeled):
    response = admin.get("/p/export-demo/exports/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="kind"' in html
    assert 'value="parquet"' in html
    assert f'value="{labeled.queue.pk}"' in html
    assert "No exports yet." in html


@pytest.mark.parametrize("role", [Membership.Role.REVIEWER, Membership.Role.VIEWER])
def test_reviewers_and_viewers_may_not_export(labeled, role):
    client = member(labeled.project, role)

    assert client.get("/p/export-demo/exports/").status_code == 403
    assert (
        client.post("/p/export-demo/exports/", {"kind": "raw", "format": "csv"}).status_code == 403
    )


def test_outsiders_get_a_404(labeled):
    client = Client()
    client.force_login(get_user_model().objects.create(username="stranger"))

    assert client.get("/p/export-demo/exports/").status_code == 404


def test_posting_the_form_queues_a_job(admin, labeled, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin.post(
            "/p/export-demo/exports/",
            {
                "kind": "preference",
                "format": "csv",
                "split": "train=0.8,test=0.2",
                "seed": "3",
                "redact_pii": "true",
                "gold_only": "true",
                "queue": str(labeled.queue.pk),
                "preference_format": "openai",
                "sft_min_rating": "4",
            },
        )

    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert (job.kind, job.file_format, job.created_by.username) == (
        "preference",
        "csv",
        "admin-user",
    )
    assert job.options["redact_pii"] is True
    assert job.options["gold_only"] is True
    assert job.options["queue"] == labeled.queue.pk
    assert job.options["preference_format"] == "openai"
    assert len(callbacks) == 1


def test_invalid_form_is_shown_again_with_the_errors(admin):
    response = admin.post(
        "/p/export-demo/exports/", {"kind": "raw", "format": "jsonl", "split": "train=2"}
    )

    assert response.status_code == 400
    assert "must be above 0 and at most 1" in response.content.decode()
    assert not ExportJob.objects.exists()


def test_job_list_polls_while_a_job_runs_and_offers_the_download_when_done(admin, labeled):
    admin.post("/p/export-demo/exports/", {"kind": "sft", "format": "jsonl", "seed": "0"})
    job = ExportJob.objects.get()

    running = admin.get("/p/export-demo/exports/jobs/").content.decode()
    export_job_run(job_id=job.pk)
    done = admin.get("/p/export-demo/exports/jobs/").content.decode()

    assert 'hx-trigger="every 2s"' in running
    assert "hx-trigger" not in done
    assert f"/p/export-demo/exports/{job.pk}/download/" in done
    download = admin.get(f"/p/export-demo/exports/{job.pk}/download/")
    assert download.status_code == 200
    assert len(b"".join(download.streaming_content).splitlines()) == 4


def test_download_of_an_unfinished_job_is_a_404(admin):
    admin.post("/p/export-demo/exports/", {"kind": "sft", "format": "jsonl", "seed": "0"})
    job = ExportJob.objects.get()

    assert admin.get(f"/p/export-demo/exports/{job.pk}/download/").status_code == 404


def test_the_page_and_its_errors_speak_korean(admin):
    page = admin.get("/p/export-demo/exports/", headers={"Accept-Language": "ko"})
    refused = admin.post(
        "/p/export-demo/exports/",
        {"kind": "raw", "format": "jsonl", "split": "train=2", "limit": "0"},
        headers={"Accept-Language": "ko"},
    )

    html = page.content.decode()
    assert "데이터셋 내보내기" in html
    assert "내보내기 시작" in html
    assert "아직 내보내기가 없습니다." in html
    errors = refused.content.decode()
    assert "“train”의 비율은 0보다 크고 1 이하여야 합니다" in errors
    assert "0보다 큰 정수" in errors


def test_a_finished_job_is_deleted_from_the_list(
    admin, labeled, tmp_path, django_capture_on_commit_callbacks
):
    admin.post("/p/export-demo/exports/", {"kind": "sft", "format": "jsonl", "seed": "0"})
    job = ExportJob.objects.get()
    listed = admin.get("/p/export-demo/exports/jobs/").content.decode()
    refused = admin.post(f"/p/export-demo/exports/{job.pk}/delete/", headers={"HX-Request": "true"})
    export_job_run(job_id=job.pk)
    job.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            f"/p/export-demo/exports/{job.pk}/delete/", headers={"HX-Request": "true"}
        )

    # Only a finished job has the button; an early request is refused (shown in the
    # table, which polls again), the job kept.
    assert f"/p/export-demo/exports/{job.pk}/delete/" not in listed
    refusal = refused.content.decode()
    assert refused.status_code == 200
    assert f"Export {job.pk} has not finished; it can be deleted once it has." in refusal
    assert 'role="alert"' in refusal and 'hx-trigger="every 2s"' in refusal
    assert response.status_code == 200
    assert "No exports yet." in response.content.decode()
    assert not ExportJob.objects.exists()
    assert not (tmp_path / job.directory).exists()


def test_deleting_without_javascript_returns_to_the_page(admin, labeled):
    admin.post("/p/export-demo/exports/", {"kind": "sft", "format": "jsonl", "seed": "0"})
    job = ExportJob.objects.get()
    export_job_run(job_id=job.pk)
    page = admin.get("/p/export-demo/exports/").content.decode()

    response = admin.post(f"/p/export-demo/exports/{job.pk}/delete/", follow=True)

    assert f'action="/p/export-demo/exports/{job.pk}/delete/"' in page
    assert response.redirect_chain[-1][0] == "/p/export-demo/exports/"
    assert f"Export {job.pk} deleted." in response.content.decode()
    assert admin.get(f"/p/export-demo/exports/{job.pk}/delete/").status_code == 405


def test_only_admins_delete_and_only_their_projects_jobs(admin, labeled):
    admin.post("/p/export-demo/exports/", {"kind": "sft", "format": "jsonl", "seed": "0"})
    job = ExportJob.objects.get()
    export_job_run(job_id=job.pk)
    reviewer = member(labeled.project, Membership.Role.REVIEWER)

    assert reviewer.post(f"/p/export-demo/exports/{job.pk}/delete/").status_code == 403
    assert admin.post("/p/export-demo/exports/999999/delete/").status_code == 404
    assert ExportJob.objects.filter(pk=job.pk).exists()


def test_an_expired_job_shows_that_its_files_were_removed(admin, labeled):
    admin.post("/p/export-demo/exports/", {"kind": "sft", "format": "jsonl", "seed": "0"})
    job = ExportJob.objects.get()
    export_job_run(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(files=[], expired_at=timezone.now())

    listed = admin.get("/p/export-demo/exports/jobs/").content.decode()

    assert "Files removed" in listed
    assert f"/p/export-demo/exports/{job.pk}/download/" not in listed
    assert f"/p/export-demo/exports/{job.pk}/delete/" in listed
    assert admin.get(f"/p/export-demo/exports/{job.pk}/download/").status_code == 404


def test_the_manifest_is_shown_and_outlives_the_files(admin, labeled):
    admin.post("/p/export-demo/exports/", {"kind": "sft", "format": "jsonl", "seed": "0"})
    job = ExportJob.objects.get()
    before = admin.get(f"/p/export-demo/exports/{job.pk}/manifest.json")
    export_job_run(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(files=[], expired_at=timezone.now())
    listed = admin.get("/p/export-demo/exports/jobs/").content.decode()

    response = admin.get(f"/p/export-demo/exports/{job.pk}/manifest.json")

    assert before.status_code == 404
    assert f"/p/export-demo/exports/{job.pk}/manifest.json" in listed
    assert response.status_code == 200
    manifest = response.json()
    assert (manifest["kind"], manifest["rows_total"]) == ("sft", 4)
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"])
    reviewer = member(labeled.project, Membership.Role.REVIEWER)
    assert reviewer.get(f"/p/export-demo/exports/{job.pk}/manifest.json").status_code == 403
