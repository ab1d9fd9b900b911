from django.db import transaction
from django.utils import timezone

from annotations.errors import InvalidInput
from annotations.models import Feedback, Message, Project
from annotations.selectors import message_get


@transaction.atomic
def feedback_submit(
    *,
    project: Project,
    conversation_id: str,
    message_id: str,
    end_user: str,
    rating: str,
    reasons: list[str],
    comment: str,
    source: str,
) -> tuple[Feedback, bool]:
    """Record an end user's vote on an assistant answer; a second vote replaces the first.

    Returns the feedback and whether it was created (False when it replaced a vote).
    Raises NotFound for an unknown conversation or message of this project.
    """
    message = message_get(project=project, conversation_id=conversation_id, message_id=message_id)
    if message.role != Message.Role.ASSISTANT:
        raise InvalidInput(
            "Only assistant messages can be rated.",
            fields={"message": [f"message {message_id!r} is a {message.role} message"]},
        )
    now = timezone.now()
    first_voted_at = (
        Feedback.objects.filter(message=message, end_user=end_user)
        .values_list("created_at", flat=True)
        .first()
    )
    # One statement that inserts or replaces, so concurrent votes by one user never
    # collide: INSERT ... ON CONFLICT (message, end_user) DO UPDATE.
    [feedback] = Feedback.objects.bulk_create(
        [
            Feedback(
                project=project,
                message=message,
                end_user=end_user,
                rating=rating,
                reasons=reasons,
                comment=comment,
                source=source,
                created_at=now,
                updated_at=now,
            )
        ],
        update_conflicts=True,
        unique_fields=["message", "end_user"],
        update_fields=["rating", "reasons", "comment", "source", "updated_at"],
    )
    if first_voted_at is not None:
        # The replaced row keeps the time of the first vote.
        feedback.created_at = first_voted_at
    return feedback, first_voted_at is None


@transaction.atomic
def feedback_withdraw(
    *, project: Project, conversation_id: str, message_id: str, end_user: str
) -> bool:
    """Remove an end user's vote on a message; True when there was one."""
    message = message_get(project=project, conversation_id=conversation_id, message_id=message_id)
    deleted, _ = Feedback.objects.filter(message=message, end_user=end_user).delete()
    return deleted > 0
