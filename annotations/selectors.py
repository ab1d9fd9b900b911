from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Count, Prefetch, QuerySet

from annotations.errors import NotFound
from annotations.keys import key_hash
from annotations.models import Conversation, DailyStats, Feedback, Message, Project, ProjectKey

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
    """A conversation of the project with its messages and their feedback, in two queries more."""
    messages = Message.objects.order_by("position").prefetch_related(
        Prefetch("feedback", queryset=Feedback.objects.order_by("created_at", "id"))
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


def project_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects the user is a member of (all of them for superusers), with counts."""
    projects = (
        Project.objects.all()
        if user.is_superuser
        else Project.objects.filter(memberships__user=user)
    )
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
