from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Prefetch, QuerySet

from annotations.errors import NotFound
from annotations.keys import key_hash
from annotations.models import Conversation, DailyStats, Feedback, Message, Project, ProjectKey


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
        Message.objects.filter(
            project=project,
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
