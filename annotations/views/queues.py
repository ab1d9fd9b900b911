"""Queue pages: the list with progress, one queue's progress, and creating a queue."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations import selectors, selectors_review
from annotations.errors import InvalidInput, NotFound
from annotations.filters import FILTER_KEYS, queue_filters_clean
from annotations.models import Membership, Project, Queue
from annotations.services import queues as queue_services
from annotations.services.projects import LABELING_ROLES
from annotations.views.access import can, project_for

FILTER_LABELS = {
    "rating": gettext_lazy("End-user rating"),
    "reasons": gettext_lazy("Reasons"),
    "since": gettext_lazy("Since"),
    "until": gettext_lazy("Until"),
    "model": gettext_lazy("Model"),
    "prompt_name": gettext_lazy("Prompt name"),
    "prompt_version": gettext_lazy("Prompt version"),
    "tags": gettext_lazy("Tags"),
    "labeled": gettext_lazy("Already labeled"),
    "search": gettext_lazy("Text contains"),
    "sample_percent": gettext_lazy("Sample (%)"),
}
RATING_LABELS = {
    "down": gettext_lazy("Thumbs down"),
    "up": gettext_lazy("Thumbs up only"),
    "none": gettext_lazy("No votes"),
}
LABELED_LABELS = {"yes": gettext_lazy("Yes"), "no": gettext_lazy("No")}
ORDER_LABELS = {
    Queue.Order.DOWN_FIRST: gettext_lazy("Thumbs-down first, then oldest"),
    Queue.Order.OLDEST: gettext_lazy("Oldest first"),
    Queue.Order.NEWEST: gettext_lazy("Newest first"),
    Queue.Order.RANDOM: gettext_lazy("Random"),
}
FORM_DEFAULTS: dict[str, Any] = {
    "name": "",
    "instructions": "",
    "order": Queue.Order.DOWN_FIRST,
    "annotations_per_item": "1",
    "lease_minutes": "30",
    "reviewers": [],
    **{key: "" for key in FILTER_KEYS},
    "labeled": "any",
}
NAME_MAX = 200
INSTRUCTIONS_MAX = 20_000


def queue_of(project: Project, queue_id: int) -> Queue:
    """The queue named in the URL, or a 404 when it belongs to no queue of the project."""
    try:
        return selectors_review.queue_get(project=project, queue_id=queue_id)
    except NotFound as error:
        raise Http404(error.message) from error


def filter_summary(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """A clean filter as (label, value) pairs for people to read."""
    rows = []
    for key, value in filters.items():
        if key == "rating":
            shown = RATING_LABELS.get(value, value)
        elif key == "labeled":
            shown = LABELED_LABELS.get(value, value)
        elif isinstance(value, list):
            shown = ", ".join(str(item) for item in value)
        else:
            shown = value
        rows.append((str(FILTER_LABELS.get(key, key)), str(shown)))
    return rows


def _filters_from(data: QueryDict) -> dict[str, str]:
    return {key: data.get(key, "") for key in FILTER_KEYS if key in data}


def _whole_number(raw: str) -> int:
    """A form's integer; 0 for anything else, which the services reject with a message."""
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def _field_errors(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    # Filter errors arrive as "filters.since"; the form's fields are named "since".
    return {
        key.removeprefix("filters.") if key != "filters" else key: value
        for key, value in fields.items()
    }


@login_required
@require_GET
def queue_list(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request, slug)
    queues = selectors.queue_list_with_progress(project=project)
    assigned = selectors_review.queue_reviewer_ids(project=project)
    is_admin = can(request, Membership.Role.ADMIN)
    for queue in queues:
        reviewers = assigned.get(queue.pk, set())
        queue.annotation_total = queue.annotation_total or 0
        queue.annotations_wanted = queue.item_count * queue.annotations_per_item
        queue.reviewer_count = len(reviewers)
        queue.open_to_me = is_admin or not reviewers or request.user.pk in reviewers
    return render(request, "annotations/queues/list.html", {"project": project, "queues": queues})


@login_required
@require_http_methods(["GET", "POST"])
def queue_create(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    form = dict(FORM_DEFAULTS)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        data = request.POST
        form.update({key: data.get(key, "") for key in FORM_DEFAULTS if key != "reviewers"})
        form["reviewers"] = [int(value) for value in data.getlist("reviewers") if value.isdigit()]
        if len(form["name"]) > NAME_MAX:
            errors["name"] = [_("At most %(count)d characters.") % {"count": NAME_MAX}]
        if len(form["instructions"]) > INSTRUCTIONS_MAX:
            errors["instructions"] = [
                _("At most %(count)d characters.") % {"count": INSTRUCTIONS_MAX}
            ]
        if not errors:
            try:
                queue = queue_services.queue_create(
                    project=project,
                    name=form["name"],
                    instructions=form["instructions"].replace("\r\n", "\n"),
                    filters=_filters_from(data),
                    order=form["order"],
                    annotations_per_item=_whole_number(form["annotations_per_item"]),
                    lease_minutes=_whole_number(form["lease_minutes"]),
                    reviewers=get_user_model().objects.filter(pk__in=form["reviewers"]),
                    created_by=request.user,
                    fill_later=True,
                )
            except InvalidInput as error:
                errors = _field_errors(error.fields)
            else:
                queue.refresh_from_db(fields=["refreshed_at"])
                if queue.refreshed_at is None:
                    # A worker fills it; the queue page follows its progress.
                    messages.success(
                        request, _("Queue created; the matching answers are being added.")
                    )
                else:
                    count = queue.items.count()
                    messages.success(
                        request,
                        ngettext(
                            "Queue created with %(count)d answer.",
                            "Queue created with %(count)d answers.",
                            count,
                        )
                        % {"count": count},
                    )
                return redirect("queue-detail", slug=project.slug, queue_id=queue.pk)
        status = 400
    context = {
        "project": project,
        "form": form,
        "errors": errors,
        "orders": list(ORDER_LABELS.items()),
        "ratings": list(RATING_LABELS.items()),
        "members": [
            member
            for member in selectors.membership_list(project=project)
            if member.role in LABELING_ROLES
        ],
        "sources": selectors.answer_sources(project=project),
    }
    return render(request, "annotations/queues/create.html", context, status=status)


@login_required
@require_GET
def queue_count(request: HttpRequest, slug: str) -> HttpResponse:
    """How many answers the filter being edited matches, as a fragment for htmx."""
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    filters, errors = queue_filters_clean(_filters_from(request.GET))
    count = None
    if not errors:
        count = selectors.message_filter(project=project, filters=filters).count()
    problems = [
        (str(FILTER_LABELS.get(key.removeprefix("filters."), key)), message)
        for key, field_messages in errors.items()
        for message in field_messages
    ]
    return render(request, "annotations/queues/_count.html", {"count": count, "problems": problems})


@login_required
@require_GET
def queue_detail(request: HttpRequest, slug: str, queue_id: int) -> HttpResponse:
    project = project_for(request, slug)
    queue = queue_of(project, queue_id)
    assigned = list(queue.reviewers.order_by("username"))
    is_admin = can(request, Membership.Role.ADMIN)
    context = {
        "project": project,
        "queue": queue,
        "order_label": ORDER_LABELS.get(queue.order, queue.order),
        "progress": selectors_review.queue_progress(queue=queue),
        "reviewer_progress": selectors.queue_reviewer_progress(queue=queue),
        "filter_rows": filter_summary(queue.filters),
        "assigned": assigned,
        "open_to_me": is_admin or not assigned or request.user in assigned,
    }
    return render(request, "annotations/queues/detail.html", context)


@login_required
@require_POST
def queue_refresh(request: HttpRequest, slug: str, queue_id: int) -> HttpResponse:
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    queue = queue_of(project, queue_id)
    added = queue_services.queue_refresh(queue=queue)
    messages.success(
        request,
        ngettext("%(count)d new answer added.", "%(count)d new answers added.", added)
        % {"count": added},
    )
    return redirect("queue-detail", slug=project.slug, queue_id=queue.pk)


@login_required
@require_POST
def queue_archive(request: HttpRequest, slug: str, queue_id: int) -> HttpResponse:
    project = project_for(request, slug, role=Membership.Role.ADMIN)
    queue = queue_of(project, queue_id)
    queue_services.queue_archive(queue=queue)
    messages.success(request, _("Queue “%(name)s” archived.") % {"name": queue.name})
    return redirect("queue-list", slug=project.slug)
