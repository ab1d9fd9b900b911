"""The project admins' Export page: start an export, follow its progress, download it."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations.errors import Conflict, InvalidInput, NotFound
from annotations.models import Membership, Project, Queue
from annotations.views.access import project_for
from exports.downloads import export_job_download
from exports.models import ExportJob
from exports.options import export_options_clean
from exports.selectors import export_job_get, export_job_list
from exports.services.jobs import export_job_create, export_job_delete

KIND_LABELS = [
    ("raw", gettext_lazy("Raw: everything, one row per labeled answer")),
    ("eval", gettext_lazy("RAG evaluation set (user_input, response, retrieved_contexts)")),
    ("sft", gettext_lazy("Supervised fine-tuning (chat messages)")),
    ("preference", gettext_lazy("Preference pairs (chosen / rejected)")),
]
FORMAT_LABELS = [("jsonl", "JSONL"), ("csv", "CSV"), ("parquet", "Parquet")]
FORMAT_NAMES = dict(FORMAT_LABELS)
KIND_SHORT_LABELS = {
    "raw": gettext_lazy("Raw"),
    "eval": gettext_lazy("Evaluation"),
    "sft": gettext_lazy("Fine-tuning"),
    "preference": gettext_lazy("Preference pairs"),
}
STATUS_LABELS = {
    ExportJob.Status.QUEUED: gettext_lazy("Queued"),
    ExportJob.Status.RUNNING: gettext_lazy("Running"),
    ExportJob.Status.SUCCEEDED: gettext_lazy("Done"),
    ExportJob.Status.FAILED: gettext_lazy("Failed"),
}
FORM_DEFAULTS: dict[str, Any] = {
    "kind": "eval",
    "format": "jsonl",
    "since": "",
    "until": "",
    "queue": "",
    "tags": "",
    "model": "",
    "prompt_name": "",
    "prompt_version": "",
    "rating": "",
    "gold_only": "",
    "limit": "",
    "split": "",
    "seed": "0",
    "redact_pii": "",
    "preference_format": "trl",
    "sft_min_rating": "4",
}


def _jobs_context(project: Project) -> dict[str, Any]:
    jobs = export_job_list(project=project)
    for job in jobs:
        job.status_label = STATUS_LABELS.get(job.status, job.status)
        job.kind_label = KIND_SHORT_LABELS.get(job.kind, job.kind)
        job.format_label = FORMAT_NAMES.get(job.file_format, job.file_format)
        if job.expired_at is not None:
            job.status_label = _("Files removed")
    return {
        "project": project,
        "jobs": jobs,
        "polling": any(not job.is_finished for job in jobs),
    }


@login_required
@require_http_methods(["GET", "POST"])
def export_page(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    form = dict(FORM_DEFAULTS)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form.update({key: request.POST.get(key, "").strip() for key in FORM_DEFAULTS})
        options, errors = export_options_clean(form)
        if options is not None:
            try:
                job = export_job_create(project=project, options=options, created_by=request.user)
            except InvalidInput as error:
                errors = {key: list(value) for key, value in error.fields.items()}
            else:
                messages.success(request, _("Export %(id)d queued.") % {"id": job.pk})
                return redirect("export-page", slug=project.slug)
        status = 400
    context = {
        **_jobs_context(project),
        "form": form,
        "errors": errors,
        "kinds": KIND_LABELS,
        "formats": FORMAT_LABELS,
        "queues": Queue.objects.filter(project=project, is_archived=False).order_by("name"),
    }
    return render(request, "exports/page.html", context, status=status)


@login_required
@require_GET
def export_jobs(request: HttpRequest, slug: str) -> HttpResponse:
    """The job table alone, polled by htmx while a job is queued or running."""
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    return render(request, "exports/_jobs.html", _jobs_context(project))


@login_required
@require_GET
def export_download(request: HttpRequest, slug: str, job_id: int) -> HttpResponseBase:
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    try:
        return export_job_download(export_job_get(project=project, job_id=job_id))
    except (NotFound, Conflict) as error:
        raise Http404(error.message) from error


@login_required
@require_POST
def export_delete(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """Delete a finished export; htmx gets the job table back, a plain form the page."""
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    try:
        export_job_delete(job=export_job_get(project=project, job_id=job_id))
    except NotFound as error:
        raise Http404(error.message) from error
    except Conflict:
        refusal = _("Export %(id)d has not finished; it can be deleted once it has.") % {
            "id": job_id
        }
        if request.headers.get("HX-Request"):
            # Answered 200 so that htmx shows it, with the table as it is now (polling
            # again: the job runs).
            context = {**_jobs_context(project), "refusal": refusal}
            return render(request, "exports/_jobs.html", context)
        messages.error(request, refusal)
        return redirect("export-page", slug=project.slug)
    if request.headers.get("HX-Request"):
        return render(request, "exports/_jobs.html", _jobs_context(project))
    messages.success(request, _("Export %(id)d deleted.") % {"id": job_id})
    return redirect("export-page", slug=project.slug)


@login_required
@require_GET
def export_manifest(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    """A succeeded job's manifest (files, SHA-256, counts, filters), kept after its files
    expire."""
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    try:
        job = export_job_get(project=project, job_id=job_id)
    except NotFound as error:
        raise Http404(error.message) from error
    if not job.manifest:
        raise Http404(f"Export {job_id} has no manifest.")
    return JsonResponse(job.manifest, json_dumps_params={"ensure_ascii": False, "indent": 2})
