from django.db import IntegrityError, transaction
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
    values = {
        "rating": rating,
        "reasons": reasons,
        "comment": comment,
        "source": source,
        "updated_at": now,
    }
    feedback = (
        Feedback.objects.select_for_update().filter(message=message, end_user=end_user).first()
    )
    if feedback is None:
        try:
            with transaction.atomic():
                feedback = Feedback.objects.create(
                    project=project, message=message, end_user=end_user, created_at=now, **values
                )
            return feedback, True
        except IntegrityError:
            # Another request created this vote between the read and the insert.
            feedback = Feedback.objects.select_for_update().get(message=message, end_user=end_user)
    for name, value in values.items():
        setattr(feedback, name, value)
    feedback.save(update_fields=list(values))
    return feedback, False


@transaction.atomic
def feedback_withdraw(
    *, project: Project, conversation_id: str, message_id: str, end_user: str
) -> bool:
    """Remove an end user's vote on a message; True when there was one."""
    message = message_get(project=project, conversation_id=conversation_id, message_id=message_id)
    deleted, _ = Feedback.objects.filter(message=message, end_user=end_user).delete()
    return deleted > 0
