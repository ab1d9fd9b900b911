"""The labeling page: one answer with its conversation and evidence, and the rubric form."""

import string
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations import selectors, selectors_review
from annotations.errors import Conflict, InvalidInput, NotFound
from annotations.feedback_reasons import reason_labels
from annotations.models import Membership, Message, Project, Queue, QueueItem
from annotations.rubrics import text_of
from annotations.services import queues as queue_services
from annotations.services.annotations import annotation_submit, annotation_submit_and_claim_next
from annotations.views.access import can, project_for
from annotations.views.messages import tool_call_views
from annotations.views.queues import queue_of

# "s" skips the item, so options are lettered without it.
SKIP_KEY = "s"
OPTION_KEYS = [letter for letter in string.ascii_lowercase if letter != SKIP_KEY]
DAY_MS = 24 * 60 * 60 * 1000
# Renew well before the lease ends, and at least every five minutes.
RENEW_MAX_SECONDS = 5 * 60
ROLE_LABELS = {
    Message.Role.SYSTEM: gettext_lazy("System"),
    Message.Role.USER: gettext_lazy("User"),
    Message.Role.ASSISTANT: gettext_lazy("Assistant"),
    Message.Role.TOOL: gettext_lazy("Tool"),
}


def _labeling_scope(request: HttpRequest, slug: str, queue_id: int) -> tuple[Project, Queue]:
    """The project and queue, if the user may label in it (reviewers assigned, or admins)."""
    project = project_for(request, slug, role=Membership.Role.REVIEWER)
    queue = queue_of(project, queue_id)
    if not can(request, Membership.Role.ADMIN) and not selectors_review.queue_open_to(
        queue=queue, user=request.user
    ):
        raise PermissionDenied("This queue is assigned to other reviewers.")
    return project, queue


def _item_of(queue: Queue, item_id: int) -> QueueItem:
    try:
        return selectors.queue_item_for_labeling(item_id=item_id, queue=queue)
    except NotFound as error:
        raise Http404(error.message) from error


def _language() -> str:
    return (get_language() or "en").split("-")[0]


def _choice(value: str, label: str, hint: str | None, checked: bool) -> dict[str, Any]:
    return {"value": value, "label": label, "hint": hint, "checked": checked}


def question_rows(
    questions: list[dict[str, Any]],
    *,
    language: str,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    original_answer: str,
) -> list[dict[str, Any]]:
    """The rubric's questions as the form shows them: texts in the language, choices, values."""
    rows = []
    for question in questions:
        key, kind = question["key"], question["type"]
        value = values.get(key)
        row: dict[str, Any] = {
            "key": key,
            "type": kind,
            "field": f"answer_{key}",
            "label": text_of(question.get("label"), language) or key,
            "help": text_of(question.get("help"), language),
            "required": bool(question.get("required")),
            "errors": errors.get(f"answers.{key}", []),
            "widget": "radio",
            "choices": [],
            "text": "",
        }
        if kind == "rating":
            scale = question.get("scale") or {}
            labels = scale.get("labels") or {}
            row["widget"] = "scale"
            row["choices"] = [
                # The digit 0 stands for 10 on a ten-point scale.
                _choice(
                    str(point),
                    text_of(labels.get(str(point)), language),
                    str(point % 10),
                    value == point,
                )
                for point in range(scale.get("min", 1), scale.get("max", 5) + 1)
            ]
        elif kind == "boolean":
            row["choices"] = [
                _choice("yes", _("Yes"), OPTION_KEYS[0], value is True),
                _choice("no", _("No"), OPTION_KEYS[1], value is False),
            ]
        elif kind == "pairwise":
            labels = [
                ("a", _("Answer A (this answer)")),
                ("b", _("Answer B (the corrected answer)")),
                ("tie", _("Tie")),
            ]
            row["choices"] = [
                _choice(option, label, OPTION_KEYS[index], value == option)
                for index, (option, label) in enumerate(labels)
            ]
        elif kind in ("single_choice", "multi_choice"):
            selected = value if isinstance(value, list) else [value]
            row["widget"] = "checkbox" if kind == "multi_choice" else "radio"
            row["choices"] = [
                _choice(
                    option["value"],
                    text_of(option.get("label"), language) or option["value"],
                    OPTION_KEYS[index] if index < len(OPTION_KEYS) else None,
                    option["value"] in selected,
                )
                for index, option in enumerate(question.get("options") or [])
            ]
        else:
            row["widget"] = "textarea"
            if isinstance(value, str):
                row["text"] = value
            elif kind == "corrected_answer":
                row["text"] = original_answer
        rows.append(row)
    return rows


def _text(raw: str) -> str:
    # Browsers send textarea line breaks as CRLF.
    return raw.replace("\r\n", "\n")


def answers_from_form(
    questions: list[dict[str, Any]], data: QueryDict, *, original_answer: str
) -> dict[str, Any]:
    """The answers dict the rubric expects, from the form; empty answers are left out.

    Values that do not parse are passed on as they came, so that validation names them.
    """
    answers: dict[str, Any] = {}
    for question in questions:
        key, kind = question["key"], question["type"]
        field = f"answer_{key}"
        value: Any
        if kind == "multi_choice":
            value = data.getlist(field)
        elif kind == "rating":
            value = data.get(field, "").strip()
            value = int(value) if value.isdecimal() else value
        elif kind == "boolean":
            value = data.get(field, "")
            value = {"yes": True, "no": False}.get(value, value)
        elif kind in ("text", "corrected_answer"):
            value = _text(data.get(field, ""))
            if not value.strip():
                value = ""
            # The box starts out holding the original answer; unchanged, it corrects nothing.
            if kind == "corrected_answer" and value.strip() == _text(original_answer).strip():
                value = ""
        else:
            value = data.get(field, "")
        if value not in ("", []):
            answers[key] = value
    return answers


def time_spent_from(raw: str | None) -> int | None:
    """The client's measure of time on the page, if it is a plausible one."""
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if 0 <= value < DAY_MS else None


def _safe_url(url: Any) -> str:
    """Only web links are rendered as links; javascript: and the like are dropped."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return ""


def _contexts(message: Message) -> list[dict[str, Any]]:
    contexts = message.contexts if isinstance(message.contexts, list) else []
    return [
        {
            "title": str(context.get("title") or context.get("id") or ""),
            "url": _safe_url(context.get("url")),
            "text": str(context.get("text") or ""),
            "score": context.get("score"),
        }
        for context in contexts
        if isinstance(context, dict)
    ]


def _renew_seconds(queue: Queue) -> int:
    return max(30, min(RENEW_MAX_SECONDS, queue.lease_minutes * 60 // 2))


@login_required
@require_GET
def queue_next(request: HttpRequest, slug: str, queue_id: int) -> HttpResponse:
    """Lease the reviewer's next item and open it, or say that nothing is left."""
    project, queue = _labeling_scope(request, slug, queue_id)
    item = (
        None
        if queue.is_archived
        else queue_services.queue_claim_next(queue=queue, reviewer=request.user)
    )
    if item is not None:
        return redirect("queue-item", slug=project.slug, queue_id=queue.pk, item_id=item.pk)
    context = {
        "project": project,
        "queue": queue,
        "progress": selectors_review.queue_progress(queue=queue),
    }
    return render(request, "annotations/queues/empty.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def queue_item(request: HttpRequest, slug: str, queue_id: int, item_id: int) -> HttpResponse:
    """GET: the labeling page. POST: save the labels and go on to the next item."""
    project, queue = _labeling_scope(request, slug, queue_id)
    item = _item_of(queue, item_id)
    message = item.message
    rubric = selectors.rubric_active(project_id=project.pk)
    if rubric is None:
        raise Http404("This project has no rubric.")
    own = selectors_review.annotation_of_reviewer(message=message, reviewer=request.user)
    values: dict[str, Any] = own.answers if own else {}
    errors: dict[str, list[str]] = {}
    status = 200
    time_spent_ms = None
    if request.method == "POST":
        answers = answers_from_form(rubric.questions, request.POST, original_answer=message.content)
        time_spent_ms = time_spent_from(request.POST.get("time_spent_ms"))
        try:
            if own:
                # An edit of one's own labels fills no new slot of the item.
                annotation_submit(
                    message=message,
                    reviewer=request.user,
                    answers=answers,
                    rubric=rubric,
                    time_spent_ms=time_spent_ms,
                )
                next_item = None
            else:
                next_item = annotation_submit_and_claim_next(
                    item=item,
                    reviewer=request.user,
                    answers=answers,
                    rubric=rubric,
                    time_spent_ms=time_spent_ms,
                )[2]
        except InvalidInput as error:
            values, status = answers, 400
            errors = error.fields or {"form": [error.message]}
        except Conflict:
            messages.warning(
                request,
                _(
                    "Your lease had expired and others completed this item meanwhile; "
                    "your labels for it were not saved."
                ),
            )
            return redirect("queue-next", slug=project.slug, queue_id=queue.pk)
        else:
            if next_item is not None:
                # Leased with the submission: straight to it, without the queue's
                # next-item page in between.
                return redirect(
                    "queue-item", slug=project.slug, queue_id=queue.pk, item_id=next_item.pk
                )
            return redirect("queue-next", slug=project.slug, queue_id=queue.pk)

    claim = selectors.claim_of(item=item, user=request.user)
    history = selectors.conversation_history(message=message)
    for turn in history:
        turn.role_label = ROLE_LABELS.get(turn.role, turn.role)
        turn.call_list = tool_call_views(turn.tool_calls)
    other_errors = [
        text
        for key, field_messages in errors.items()
        if not key.startswith("answers.")
        for text in field_messages
    ]
    context = {
        "project": project,
        "queue": queue,
        "item": item,
        "message": message,
        "history": history,
        "contexts": _contexts(message),
        "feedback": _votes(project, message),
        "questions": question_rows(
            rubric.questions,
            language=_language(),
            values=values,
            errors=errors,
            original_answer=message.content,
        ),
        "has_errors": bool(errors),
        "other_errors": other_errors,
        "own": own,
        "claim": claim,
        "lease_active": claim is not None and claim.expires_at > timezone.now(),
        "progress": selectors_review.queue_progress(queue=queue),
        "my_count": selectors_review.annotation_count_by_reviewer(
            queue=queue, reviewer=request.user
        ),
        "renew_seconds": _renew_seconds(queue),
        "time_spent_earlier": time_spent_ms or 0,
        "skip_key": SKIP_KEY,
    }
    return render(request, "annotations/labeling/item.html", context, status=status)


@login_required
@require_POST
def queue_item_skip(request: HttpRequest, slug: str, queue_id: int, item_id: int) -> HttpResponse:
    project, queue = _labeling_scope(request, slug, queue_id)
    queue_services.queue_item_skip(item=_item_of(queue, item_id), reviewer=request.user)
    return redirect("queue-next", slug=project.slug, queue_id=queue.pk)


@login_required
@require_POST
def queue_item_release(
    request: HttpRequest, slug: str, queue_id: int, item_id: int
) -> HttpResponse:
    project, queue = _labeling_scope(request, slug, queue_id)
    queue_services.claim_release(item=_item_of(queue, item_id), reviewer=request.user)
    messages.info(request, _("Item released; others can take it now."))
    return redirect("queue-detail", slug=project.slug, queue_id=queue.pk)


@login_required
@require_POST
def queue_item_renew(request: HttpRequest, slug: str, queue_id: int, item_id: int) -> HttpResponse:
    """Heartbeat from an open labeling page: 204 with the new expiry, or 409 when lost."""
    project, queue = _labeling_scope(request, slug, queue_id)
    item = _item_of(queue, item_id)
    try:
        expires_at = queue_services.claim_renew(item=item, reviewer=request.user)
    except Conflict:
        context = {"project": project, "queue": queue, "item": item}
        return render(request, "annotations/labeling/_lease_expired.html", context, status=409)
    response = HttpResponse(status=204)
    response["X-Lease-Expires"] = expires_at.isoformat()
    return response


def _votes(project: Project, message: Message) -> list[Any]:
    """The answer's end-user votes, each with its reasons as the project labels them."""
    labels = reason_labels(project, _language())
    votes = list(selectors_review.feedback_for_message(message=message))
    for vote in votes:
        vote.reason_labels = [labels.get(slug, slug) for slug in vote.reasons or []]
    return votes
