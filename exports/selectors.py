"""The read side of exports: assistant answers with their history, votes and labels.

The answers come from one query in id order, read in pages through a server-side
cursor on PostgreSQL (`QuerySet.iterator`), so memory holds one page whatever the
size of the export. Each page then brings its conversations' messages, its votes and
its labels in one query each: one query for the export plus three per page. Votes
and labels are selected by the page's id range (pages are consecutive id ranges), so
over the whole export each row is read once and the queries carry two parameters
instead of thousands.
"""

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import orjson
from django.db.models import Exists, Func, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast

from annotations.errors import NotFound
from annotations.models import Annotation, Feedback, Message, Project, QueueItem, Rubric
from annotations.selectors import message_filter
from exports.models import ExportJob

PAGE_SIZE = 2000
MESSAGE_FILTER_KEYS = ("since", "until", "model", "prompt_name", "prompt_version", "tags", "rating")

# JSON columns are read as text and parsed with orjson, several times faster than the
# json.loads that JSONField applies to every value.
ANSWER_FIELDS = (
    "id",
    "conversation_id",
    "position",
    "external_id",
    "conversation__external_id",
    "tags_json",
    "conversation__end_user",
    "content",
    "contexts_json",
    "model",
    "prompt_name",
    "prompt_version",
    "latency_ms",
    "created",
)


def export_messages(*, project: Project, filters: dict[str, Any]) -> QuerySet[Message]:
    """Assistant answers of the project that have feedback or annotations and match a
    clean export filter (see exports.options), in id order, without the limit."""
    messages = message_filter(
        project=project,
        filters={key: filters[key] for key in MESSAGE_FILTER_KEYS if key in filters},
    )
    messages = messages.filter(
        Q(Exists(Feedback.objects.filter(message=OuterRef("pk"))))
        | Q(Exists(Annotation.objects.filter(message=OuterRef("pk"))))
    )
    if filters.get("queue"):
        messages = messages.filter(
            Exists(QueueItem.objects.filter(queue_id=filters["queue"], message=OuterRef("pk")))
        )
    if filters.get("gold_only"):
        # Until adjudicated gold labels exist: labeled by at least one human.
        messages = messages.filter(
            Exists(
                Annotation.objects.filter(message=OuterRef("pk"), source=Annotation.Source.HUMAN)
            )
        )
    return messages.order_by("id")


def export_count(*, project: Project, filters: dict[str, Any]) -> int:
    total = export_messages(project=project, filters=filters).count()
    limit = filters.get("limit")
    return min(total, limit) if limit else total


def rubric_questions(*, project: Project) -> dict[int, list[dict[str, Any]]]:
    """Every rubric version of the project: {version: questions}."""
    return dict(Rubric.objects.filter(project=project).values_list("version", "questions"))


class IsoTimestamp(Func):
    """A timestamp as ISO 8601 text, made by the database (parsing millions of them into
    datetimes only to format them again is a large share of an export's time)."""

    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # to_json formats timestamptz as ISO 8601 in the session time zone (UTC here).
        return self.as_sql(compiler, connection, template="(to_json(%(expressions)s) #>> '{}')")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # Stored as "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC.
        return self.as_sql(
            compiler, connection, template="(replace(%(expressions)s, ' ', 'T') || '+00:00')"
        )


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def _histories(
    project_id: int, first_id: int, last_id: int, last_position: dict[int, int]
) -> dict[int, list]:
    """{conversation id: [(position, role, content), ...]} before the page's answers."""
    histories: dict[int, list] = defaultdict(list)
    page_conversations = Message.objects.filter(
        project_id=project_id, role=Message.Role.ASSISTANT, id__gte=first_id, id__lte=last_id
    ).values("conversation_id")
    rows = (
        Message.objects.filter(conversation_id__in=page_conversations)
        .order_by("conversation_id", "position")
        .values_list("conversation_id", "position", "role", "content")
    )
    for conversation_id, position, role, content in rows:
        if position < last_position.get(conversation_id, 0):
            histories[conversation_id].append((position, role, content))
    return histories


def _feedback(project_id: int, first_id: int, last_id: int) -> dict[int, list[dict[str, Any]]]:
    """Votes on the answers with ids in the range (those not in the page go unused)."""
    votes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        Feedback.objects.filter(
            project_id=project_id, message_id__gte=first_id, message_id__lte=last_id
        )
        .order_by("message_id", "created_at", "id")
        .annotate(reasons_json=Cast("reasons", TextField()), created=IsoTimestamp("created_at"))
        .values_list(
            "message_id", "end_user", "rating", "reasons_json", "comment", "source", "created"
        )
    )
    for message_id, end_user, rating, reasons, comment, source, created_at in rows:
        votes[message_id].append(
            {
                "user": end_user,
                "rating": rating,
                "reasons": _json(reasons) or [],
                "comment": comment,
                "source": source,
                "created_at": created_at,
            }
        )
    return votes


def _annotations(project_id: int, first_id: int, last_id: int) -> dict[int, list[dict[str, Any]]]:
    """Labels on the answers with ids in the range (those not in the page go unused)."""
    labels: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        Annotation.objects.filter(
            project_id=project_id, message_id__gte=first_id, message_id__lte=last_id
        )
        .order_by("message_id", "created_at", "id")
        .annotate(
            answers_json=Cast("answers", TextField()),
            created=IsoTimestamp("created_at"),
            updated=IsoTimestamp("updated_at"),
        )
        .values_list(
            "message_id",
            "annotator_name",
            "source",
            "rubric__version",
            "answers_json",
            "corrected_answer",
            "created",
            "updated",
        )
    )
    for message_id, name, source, version, answers, corrected, created_at, updated_at in rows:
        labels[message_id].append(
            {
                "annotator": name,
                "source": source,
                "rubric_version": version,
                "answers": _json(answers) or {},
                "corrected_answer": corrected,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )
    return labels


def export_items(
    *, project: Project, filters: dict[str, Any], page_size: int = PAGE_SIZE
) -> Iterator[list[dict[str, Any]]]:
    """Pages of export items (the plain dicts exports.rows builds rows from)."""
    answers_query = (
        export_messages(project=project, filters=filters)
        .annotate(
            tags_json=Cast("conversation__tags", TextField()),
            contexts_json=Cast("contexts", TextField()),
            created=IsoTimestamp("created_at"),
        )
        .values_list(*ANSWER_FIELDS)
    )
    if filters.get("limit"):
        answers_query = answers_query[: filters["limit"]]
    answers_iterator = answers_query.iterator(chunk_size=page_size)
    while answers := list(itertools.islice(answers_iterator, page_size)):
        yield _page(project.pk, answers)


def _page(project_id: int, answers: list[tuple]) -> list[dict[str, Any]]:
    first_id, last_id = answers[0][0], answers[-1][0]
    last_position: dict[int, int] = {}
    for answer in answers:
        last_position[answer[1]] = max(last_position.get(answer[1], 0), answer[2])
    histories = _histories(project_id, first_id, last_id, last_position)
    votes = _feedback(project_id, first_id, last_id)
    labels = _annotations(project_id, first_id, last_id)
    page = []
    for (
        message_id,
        conversation_id,
        position,
        external_id,
        conversation_external_id,
        tags,
        end_user,
        content,
        contexts,
        model,
        prompt_name,
        prompt_version,
        latency_ms,
        created_at,
    ) in answers:
        history = histories.get(conversation_id, [])
        before = bisect.bisect_left(history, position, key=lambda entry: entry[0])
        page.append(
            {
                "conversation_id": conversation_external_id,
                "message_id": external_id,
                "created_at": created_at,
                "tags": _json(tags) or [],
                "end_user": end_user,
                "history": [{"role": role, "content": text} for _, role, text in history[:before]],
                "answer": content,
                "contexts": _json(contexts) or [],
                "model": model,
                "prompt_name": prompt_name,
                "prompt_version": prompt_version,
                "latency_ms": latency_ms,
                "feedback": votes.get(message_id, []),
                "annotations": labels.get(message_id, []),
            }
        )
    return page


def export_job_list(*, project: Project, limit: int = 50) -> list[ExportJob]:
    """The project's latest export jobs, newest first."""
    return list(
        ExportJob.objects.filter(project=project)
        .select_related("created_by", "created_by_key")
        .order_by("-created_at", "-id")[:limit]
    )


def export_job_get(*, project: Project, job_id: int) -> ExportJob:
    """A job of the project; NotFound for other projects' jobs as for unknown ids."""
    job = ExportJob.objects.select_related("project").filter(project=project, pk=job_id).first()
    if job is None:
        raise NotFound(f"No export {job_id} in this project.")
    return job
