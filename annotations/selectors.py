import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, F, Max, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Mod
from django.utils import timezone

from annotations.errors import NotFound
from annotations.keys import key_hash
from annotations.models import (
    Annotation,
    AnnotationRevision,
    Claim,
    Conversation,
    DailyStats,
    Feedback,
    Membership,
    Message,
    Project,
    ProjectKey,
    Queue,
    QueueItem,
    Rubric,
)

ALLOWED_ORIGINS_CACHE_KEY = "widget:allowed-origins"


def origin_allowed_anywhere(origin: str) -> bool:
    """Whether any project lists the origin (for CORS preflights, which carry no key)."""
    origins = cache.get(ALLOWED_ORIGINS_CACHE_KEY)
    if origins is None:
        origins = sorted(
            {
                allowed_origin
                for allowed in Project.objects.values_list("allowed_origins", flat=True)
                for allowed_origin in allowed
            }
        )
        cache.set(ALLOWED_ORIGINS_CACHE_KEY, origins, timeout=30)
    return origin in origins


def project_key_resolve(*, raw_key: str) -> ProjectKey | None:
    """The active key matching a raw key, with its project; None if unknown or revoked."""
    return (
        ProjectKey.objects.select_related("project")
        .filter(key_hash=key_hash(raw_key), revoked_at__isnull=True)
        .first()
    )


def conversation_get(*, project: Project, external_id: str) -> Conversation:
    """A conversation of the project with its messages, their feedback and labels (4 queries)."""
    messages = Message.objects.order_by("position").prefetch_related(
        Prefetch("feedback", queryset=Feedback.objects.order_by("created_at", "id")),
        Prefetch(
            "annotations",
            queryset=Annotation.objects.select_related("rubric").order_by("created_at", "id"),
        ),
    )
    conversation = (
        Conversation.objects.filter(project=project, external_id=external_id)
        .prefetch_related(Prefetch("messages", queryset=messages))
        .first()
    )
    if conversation is None:
        raise NotFound(f"No conversation {external_id!r} in this project.")
    return conversation


def message_get(*, project: Project, conversation_id: str, message_id: str) -> Message:
    """A message by the caller's ids, scoped to the project; NotFound names what is missing."""
    message = (
        # Scoped through the conversation, so both lookups use the unique indexes
        # (project, external_id) and (conversation, external_id).
        Message.objects.filter(
            conversation__project=project,
            conversation__external_id=conversation_id,
            external_id=message_id,
        )
        .select_related("conversation")
        .first()
    )
    if message is None:
        if not Conversation.objects.filter(project=project, external_id=conversation_id).exists():
            raise NotFound(
                f"No conversation {conversation_id!r} in this project.",
                fields={"conversation": ["unknown conversation"]},
            )
        raise NotFound(
            f"No message {message_id!r} in conversation {conversation_id!r}.",
            fields={"message": ["unknown message"]},
        )
    return message


def daily_stats_list(*, project: Project) -> QuerySet[DailyStats]:
    return DailyStats.objects.filter(project=project).order_by(
        "day", "model", "prompt_name", "prompt_version"
    )


def project_list_for_user(*, user: AbstractBaseUser, role: str | None = None) -> QuerySet[Project]:
    """Projects the user is a member of (in that role, when given; all of them for
    superusers), with counts."""
    if user.is_superuser:
        projects = Project.objects.all()
    elif role is None:
        projects = Project.objects.filter(memberships__user=user)
    else:
        projects = Project.objects.filter(memberships__user=user, memberships__role=role)
    return projects.annotate(
        conversation_count=Count("conversations", distinct=True),
    ).order_by("name")


def project_public_key(*, project: Project) -> ProjectKey | None:
    """The newest active public key of a project (public keys are stored whole)."""
    return (
        ProjectKey.objects.filter(
            project=project, kind=ProjectKey.Kind.PUBLIC, revoked_at__isnull=True
        )
        .order_by("-created_at")
        .first()
    )


def conversation_list_recent(*, project: Project, limit: int) -> list[Conversation]:
    """The latest conversations of a project with their messages in order (two queries)."""
    return list(
        Conversation.objects.filter(project=project)
        .order_by("-created_at", "-id")
        .prefetch_related(Prefetch("messages", queryset=Message.objects.order_by("position")))[
            :limit
        ]
    )


def rubric_active(*, project_id: int) -> Rubric | None:
    return Rubric.objects.filter(project_id=project_id, is_active=True).first()


def _lists(table: str, column: str, value: str, *, path: str = "pk") -> Q:
    """Rows (of `table`, reached by `path`) whose JSON list `column` holds `value` exactly:
    case as given, and Korean too (SQLite keeps JSON text with non-ASCII escaped, so
    matching the text would miss it)."""
    if connection.vendor == "postgresql":
        lookup = column if path == "pk" else f"{path.removesuffix('_id')}__{column}"
        return Q(**{f"{lookup}__contains": [value]})
    # Built from fixed names; the value is a parameter.
    holders = RawSQL(  # noqa: S611
        f"SELECT t.id FROM {table} t, json_each(t.{column}) e WHERE e.value = %s",  # noqa: S608
        [value],
    )
    return Q(**{f"{path}__in": holders})


# An answer is what end users rate and reviewers label: an assistant message that calls
# no tools. One that calls tools (whether or not it also says "let me look that up") is
# a step towards the answer. Message.is_answer is the same rule on one message.
ANSWERS = Q(role=Message.Role.ASSISTANT, tool_calls=[])


def message_filter(*, project: Project, filters: dict[str, Any]) -> QuerySet[Message]:
    """Assistant answers of a project matching a clean filter (see annotations.filters)."""
    messages = Message.objects.filter(ANSWERS, project=project)
    rating = filters.get("rating")
    if rating == "down":
        messages = messages.filter(
            Exists(Feedback.objects.filter(message=OuterRef("pk"), rating="down"))
        )
    elif rating == "up":
        messages = messages.filter(
            Exists(Feedback.objects.filter(message=OuterRef("pk"), rating="up"))
        ).exclude(Exists(Feedback.objects.filter(message=OuterRef("pk"), rating="down")))
    elif rating == "none":
        messages = messages.exclude(Exists(Feedback.objects.filter(message=OuterRef("pk"))))
    if filters.get("reasons"):
        reason_match = Q()
        for reason in filters["reasons"]:
            reason_match |= _lists("annotations_feedback", "reasons", reason)
        messages = messages.filter(
            Exists(Feedback.objects.filter(reason_match, message=OuterRef("pk")))
        )
    tz = timezone.get_current_timezone()
    if filters.get("since"):
        since = datetime.date.fromisoformat(filters["since"])
        messages = messages.filter(
            created_at__gte=datetime.datetime.combine(since, datetime.time.min, tzinfo=tz)
        )
    if filters.get("until"):
        until = datetime.date.fromisoformat(filters["until"]) + datetime.timedelta(days=1)
        messages = messages.filter(
            created_at__lt=datetime.datetime.combine(until, datetime.time.min, tzinfo=tz)
        )
    for key in ("model", "prompt_name", "prompt_version"):
        if filters.get(key):
            messages = messages.filter(**{key: filters[key]})
    if filters.get("tags"):
        tag_match = Q()
        for tag in filters["tags"]:
            tag_match |= _lists("annotations_conversation", "tags", tag, path="conversation_id")
        messages = messages.filter(tag_match)
    if filters.get("labeled") == "yes":
        messages = messages.filter(Exists(Annotation.objects.filter(message=OuterRef("pk"))))
    elif filters.get("labeled") == "no":
        messages = messages.exclude(Exists(Annotation.objects.filter(message=OuterRef("pk"))))
    if filters.get("search"):
        messages = messages.filter(content__icontains=filters["search"])
    if filters.get("sample_percent"):
        # A stable sample: the same answers stay in it as the filter is re-run.
        messages = messages.annotate(sample_bucket=Mod(F("id") * 7919, 100)).filter(
            sample_bucket__lt=filters["sample_percent"]
        )
    return messages


def queue_list_with_progress(*, project: Project) -> list[Queue]:
    """The project's queues with item counts, done counts and annotations given."""
    return list(
        Queue.objects.filter(project=project, is_archived=False)
        .annotate(
            item_count=Count("items"),
            done_count=Count("items", filter=Q(items__is_done=True)),
            annotation_total=Sum("items__annotation_count"),
        )
        .order_by("-created_at")
    )


def queue_reviewer_progress(*, queue: Queue) -> list[dict[str, Any]]:
    """Annotations per reviewer in a queue, most active first."""
    return list(
        Annotation.objects.filter(queue_item__queue=queue)
        .values("annotator_name")
        .annotate(count=Count("id"), last=Max("updated_at"))
        .order_by("-count", "annotator_name")
    )


def queue_item_for_labeling(*, item_id: int, queue: Queue) -> QueueItem:
    item = (
        QueueItem.objects.select_related("message__conversation", "queue")
        .filter(pk=item_id, queue=queue)
        .first()
    )
    if item is None:
        raise NotFound("No such item in this queue.")
    return item


def conversation_history(*, message: Message) -> list[Message]:
    """The messages of the conversation up to and including this one."""
    return list(
        Message.objects.filter(
            conversation_id=message.conversation_id, position__lte=message.position
        ).order_by("position")
    )


def annotations_for_conversation(*, conversation: Conversation) -> list[Annotation]:
    return list(
        Annotation.objects.filter(message__conversation=conversation)
        .select_related("rubric", "annotator")
        .prefetch_related(
            Prefetch("revisions", queryset=AnnotationRevision.objects.order_by("created_at"))
        )
        .order_by("message__position", "created_at")
    )


def membership_role(*, user: AbstractBaseUser, project: Project) -> str | None:
    """The user's role in the project ("admin" for superusers), None for outsiders."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Membership.Role.ADMIN
    return (
        Membership.objects.filter(user=user, project=project).values_list("role", flat=True).first()
    )


def claim_of(*, item: QueueItem, user: AbstractBaseUser) -> Claim | None:
    return Claim.objects.filter(item=item, reviewer=user).first()


def membership_list(*, project: Project) -> list[Membership]:
    """Members of the project with their users, by username."""
    return list(
        Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    )


def answer_sources(*, project: Project) -> dict[str, list[str]]:
    """Known models, prompt names and versions, from the daily rollup (cheap), for pickers."""
    buckets = (
        DailyStats.objects.filter(project=project)
        .order_by()
        .values_list("model", "prompt_name", "prompt_version")
        .distinct()
    )
    models, prompt_names, prompt_versions = set(), set(), set()
    for model, prompt_name, prompt_version in buckets:
        models.add(model)
        prompt_names.add(prompt_name)
        prompt_versions.add(prompt_version)
    return {
        "model": sorted(value for value in models if value),
        "prompt_name": sorted(value for value in prompt_names if value),
        "prompt_version": sorted(value for value in prompt_versions if value),
    }
