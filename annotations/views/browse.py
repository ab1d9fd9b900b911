"""The conversation browser: answers filtered like queues, and one conversation in full."""

import datetime
import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language, gettext, gettext_lazy
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from annotations.errors import NotFound
from annotations.feedback_reasons import project_reasons, reason_labels
from annotations.filters import FILTER_KEYS, queue_filters_clean
from annotations.models import Annotation, Claim, Membership, Message
from annotations.rubrics import text_of
from annotations.selectors import annotations_for_conversation, answer_sources, conversation_get
from annotations.selectors_admin import answer_page, rubric_questions
from annotations.views.access import project_for
from annotations.views.messages import tool_call_views

PAGE_SIZE = 50
FILTER_LABELS = {
    "rating": gettext_lazy("Rating"),
    "reasons": gettext_lazy("Reasons"),
    "since": gettext_lazy("Since"),
    "until": gettext_lazy("Until"),
    "model": gettext_lazy("Model"),
    "prompt_name": gettext_lazy("Prompt name"),
    "prompt_version": gettext_lazy("Prompt version"),
    "tags": gettext_lazy("Tags"),
    "labeled": gettext_lazy("Labeled"),
    "search": gettext_lazy("Search in answers"),
    "sample_percent": gettext_lazy("Sample %"),
}
CURSOR_SEPARATOR = "_"


def _language() -> str:
    return "ko" if (get_language() or "").startswith("ko") else "en"


def _filter_params(query: QueryDict) -> dict[str, Any]:
    """The filter keys of a query string; a key given twice keeps every value."""
    params: dict[str, Any] = {}
    for key in FILTER_KEYS:
        values = [value for value in query.getlist(key) if value.strip()]
        if len(values) > 1:
            params[key] = values
        elif values:
            params[key] = values[0]
    return params


def _cursor_encode(answer: Message) -> str:
    return f"{answer.created_at.isoformat()}{CURSOR_SEPARATOR}{answer.pk}"


def _cursor_decode(value: str | None) -> tuple[datetime.datetime, int] | None:
    """A (created_at, id) position from a page link; None for a missing or mangled one."""
    if not value:
        return None
    created_at, _, pk = value.rpartition(CURSOR_SEPARATOR)
    try:
        moment = datetime.datetime.fromisoformat(created_at)
        position = int(pk)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment, position


def _page_url(params: dict[str, Any], **cursor: str) -> str:
    query = QueryDict(mutable=True)
    for key, value in params.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    for key, value in cursor.items():
        query[key] = value
    return "?" + query.urlencode()


@login_required
@require_GET
@vary_on_headers("HX-Request")
def conversation_list(request: HttpRequest, slug: str) -> HttpResponse:
    """Assistant answers newest first, with the queue filter, 50 to a page."""
    project = project_for(request, slug, role=Membership.Role.VIEWER)
    params = _filter_params(request.GET)
    filters, errors = queue_filters_clean(params)
    after = _cursor_decode(request.GET.get("after"))
    before = None if after else _cursor_decode(request.GET.get("before"))
    answers: list[Message] = []
    has_older = has_newer = False
    if not errors:
        answers, more = answer_page(
            project=project, filters=filters, after=after, before=before, limit=PAGE_SIZE
        )
        has_older = more if before is None else True
        has_newer = more if before is not None else after is not None
    older_url = _page_url(params, after=_cursor_encode(answers[-1])) if answers else ""
    newer_url = _page_url(params, before=_cursor_encode(answers[0])) if answers else ""
    context = {
        "project": project,
        "answers": answers,
        "values": {
            key: ", ".join(value) if isinstance(value, list) else value
            for key, value in params.items()
        },
        "error_list": [
            (FILTER_LABELS.get(key.removeprefix("filters."), key), messages)
            for key, messages in errors.items()
        ],
        "is_filtered": bool(filters),
        "older_url": older_url if has_older else "",
        "newer_url": newer_url if has_newer else "",
        "first_url": _page_url(params) if has_newer else "",
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "annotations/browse/_results.html", context)
    context["suggestions"] = answer_sources(project=project)
    context["reasons"] = [
        {"slug": reason["slug"], "label": text_of(reason.get("label"), _language())}
        for reason in project_reasons(project)
    ]
    return render(request, "annotations/browse/conversation_list.html", context)


@login_required
@require_GET
def conversation_detail(request: HttpRequest, slug: str, external_id: str) -> HttpResponse:
    """Every message of a conversation with its end-user feedback and all its labels."""
    project = project_for(request, slug, role=Membership.Role.VIEWER)
    try:
        conversation = conversation_get(project=project, external_id=external_id)
    except NotFound as error:
        raise Http404(error.message) from error
    language = _language()
    questions_by_version = rubric_questions(project=project)
    labels_of_reasons = reason_labels(project, language)
    annotations_by_message: dict[int, list[dict[str, Any]]] = {}
    for annotation in annotations_for_conversation(conversation=conversation):
        annotations_by_message.setdefault(annotation.message_id, []).append(
            _annotation_view(annotation, questions_by_version, language)
        )
    being_labeled = _being_labeled_by(request.user, conversation)
    messages = list(conversation.messages.all())
    for message in messages:
        message.labels = annotations_by_message.get(message.pk, [])
        if message.pk in being_labeled:
            # Labeling is blind: the reviewer sees others' labels once theirs are in.
            message.labels_hidden = len(message.labels)
            message.labels = []
        message.context_list = [_context_view(context) for context in message.contexts or []]
        message.call_list = tool_call_views(message.tool_calls)
        message.usage_items = sorted((message.usage or {}).items())
        message.metadata_json = _pretty(message.metadata) if message.metadata else ""
        message.votes = [
            {
                "feedback": feedback,
                "reasons": [labels_of_reasons.get(slug, slug) for slug in feedback.reasons or []],
            }
            for feedback in message.feedback.all()
        ]
    context = {
        "project": project,
        "conversation": conversation,
        "conversation_metadata": _pretty(conversation.metadata) if conversation.metadata else "",
        "chat_messages": messages,
    }
    return render(request, "annotations/browse/conversation_detail.html", context)


def _being_labeled_by(user: Any, conversation: Any) -> set[int]:
    """The conversation's answers the user holds a lease on and has not labeled yet."""
    return set(
        Claim.objects.filter(
            reviewer=user,
            expires_at__gt=timezone.now(),
            item__message__conversation=conversation,
        )
        .exclude(item__message__annotations__annotator=user)
        .values_list("item__message_id", flat=True)
    )


def _duration(milliseconds: int | None) -> str:
    if milliseconds is None:
        return ""
    minutes, seconds = divmod(round(milliseconds / 1000), 60)
    if minutes:
        return gettext("%(minutes)dm %(seconds)02ds") % {"minutes": minutes, "seconds": seconds}
    return gettext("%(seconds)ds") % {"seconds": seconds}


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _context_view(context: Any) -> dict[str, Any]:
    """A retrieved context as shown; links only for http(s) URLs, never javascript: ones."""
    if not isinstance(context, dict):
        return {"text": str(context)}
    url = str(context.get("url") or "")
    return {
        "id": context.get("id") or "",
        "title": context.get("title") or "",
        "url": url if url.lower().startswith(("https://", "http://")) else "",
        "raw_url": url,
        "text": context.get("text") or "",
        "score": context.get("score"),
    }


def _value_text(question: dict[str, Any] | None, value: Any, language: str) -> str:
    """An answer as a reviewer reads it: scale and option labels instead of raw values."""
    if value is None or value == "" or value == []:
        return "—"
    kind = (question or {}).get("type")
    if kind == "rating":
        labels = ((question or {}).get("scale") or {}).get("labels") or {}
        label = text_of(labels.get(str(value)), language)
        return f"{value} · {label}" if label else str(value)
    if kind == "boolean":
        return gettext("Yes") if value else gettext("No")
    if kind in ("single_choice", "multi_choice"):
        options = {
            option.get("value"): text_of(option.get("label"), language)
            for option in (question or {}).get("options") or []
            if isinstance(option, dict)
        }
        values = value if isinstance(value, list) else [value]
        return ", ".join(options.get(item) or str(item) for item in values)
    if kind == "pairwise":
        return {
            "a": gettext("A is better"),
            "b": gettext("B is better"),
            "tie": gettext("Tie"),
        }.get(value, str(value))
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _answer_rows(
    questions: list[dict[str, Any]], answers: dict[str, Any], language: str
) -> list[dict[str, str]]:
    """(question label, answer) in rubric order; the corrected answer is shown on its own."""
    by_key = {question.get("key"): question for question in questions}
    keys = [question.get("key") for question in questions]
    keys += [key for key in answers if key not in by_key]
    rows = []
    for key in keys:
        question = by_key.get(key)
        if key not in answers or (question or {}).get("type") == "corrected_answer":
            continue
        rows.append(
            {
                "label": text_of((question or {}).get("label"), language) or key,
                "value": _value_text(question, answers[key], language),
            }
        )
    return rows


def _revision_changes(
    before: dict[str, Any],
    after: dict[str, Any],
    questions_by_version: dict[int, list[dict[str, Any]]],
    language: str,
) -> list[dict[str, str]]:
    """What one edit changed, question by question, with readable values."""
    before_questions = questions_by_version.get(before.get("rubric_version"), [])
    after_questions = questions_by_version.get(after.get("rubric_version"), [])
    before_by_key = {question.get("key"): question for question in before_questions}
    after_by_key = {question.get("key"): question for question in after_questions}
    before_answers = before.get("answers") or {}
    after_answers = after.get("answers") or {}
    changes = []
    if before.get("rubric_version") != after.get("rubric_version"):
        changes.append(
            {
                "label": gettext("Rubric version"),
                "before": f"v{before.get('rubric_version')}",
                "after": f"v{after.get('rubric_version')}",
            }
        )
    keys = list(dict.fromkeys([*after_by_key, *before_by_key, *before_answers, *after_answers]))
    for key in keys:
        question = after_by_key.get(key) or before_by_key.get(key)
        if (question or {}).get("type") == "corrected_answer":
            continue
        old, new = before_answers.get(key), after_answers.get(key)
        if old == new:
            continue
        changes.append(
            {
                "label": text_of((question or {}).get("label"), language) or key,
                "before": _value_text(before_by_key.get(key) or question, old, language),
                "after": _value_text(after_by_key.get(key) or question, new, language),
            }
        )
    if (before.get("corrected_answer") or "") != (after.get("corrected_answer") or ""):
        changes.append(
            {
                "label": gettext("Corrected answer"),
                "before": before.get("corrected_answer") or "—",
                "after": after.get("corrected_answer") or "—",
            }
        )
    return changes


def _annotation_view(
    annotation: Annotation, questions_by_version: dict[int, list[dict[str, Any]]], language: str
) -> dict[str, Any]:
    return {
        "annotation": annotation,
        "time_spent": _duration(annotation.time_spent_ms),
        "rows": _answer_rows(annotation.rubric.questions, annotation.answers or {}, language),
        "revisions": [
            {
                "revision": revision,
                "changes": _revision_changes(
                    revision.before or {}, revision.after or {}, questions_by_version, language
                ),
            }
            for revision in annotation.revisions.all()
        ],
    }
