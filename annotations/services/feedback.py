import dataclasses
from datetime import UTC, datetime, timedelta

import orjson
from django.db import connection, transaction
from django.utils import timezone

from annotations.db import prepared_cursor
from annotations.errors import InvalidInput
from annotations.models import Feedback, Message, Project
from annotations.selectors import message_get


@dataclasses.dataclass(frozen=True, slots=True)
class RecordedVote:
    """An end user's vote as it stands after feedback_submit."""

    conversation_id: str
    message_id: str
    end_user: str
    rating: str
    reasons: list[str]
    comment: str
    source: str
    created_at: datetime
    updated_at: datetime
    # False when the vote replaced an earlier one by the same user.
    created: bool


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
) -> RecordedVote:
    """Record an end user's vote on an assistant answer; a second vote replaces the first.

    Raises NotFound for an unknown conversation or message of this project.
    """
    vote = {
        "project": project,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "end_user": end_user,
        "rating": rating,
        "reasons": reasons,
        "comment": comment,
        "source": source,
        "now": timezone.now(),
    }
    written = _feedback_upsert_postgresql(**vote) if connection.vendor == "postgresql" else None
    if written is None:
        # Elsewhere, or nothing written: the ORM path answers with the precise error.
        with transaction.atomic():
            written = _feedback_submit_orm(**vote)
    created_at, created = written
    return RecordedVote(
        conversation_id=conversation_id,
        message_id=message_id,
        end_user=end_user,
        rating=rating,
        reasons=reasons,
        comment=comment,
        source=source,
        created_at=created_at,
        updated_at=vote["now"],
        created=created,
    )


def _feedback_submit_orm(
    *,
    project: Project,
    conversation_id: str,
    message_id: str,
    end_user: str,
    rating: str,
    reasons: list[str],
    comment: str,
    source: str,
    now: datetime,
) -> tuple[datetime, bool]:
    """(time of the first vote, whether this one is the first)."""
    message = message_get(project=project, conversation_id=conversation_id, message_id=message_id)
    if message.role != Message.Role.ASSISTANT:
        raise InvalidInput(
            "Only assistant messages can be rated.",
            fields={"message": [f"message {message_id!r} is a {message.role} message"]},
        )
    if not message.is_answer:
        raise InvalidInput(
            "Only answers can be rated, not the steps that call tools.",
            fields={"message": [f"message {message_id!r} calls tools; rate the answer"]},
        )
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
    # The replaced row keeps the time of the first vote.
    return first_voted_at or feedback.created_at, first_voted_at is None


# The hot path of the widget: find the answer and insert or replace the vote in one
# statement (the ORM path below takes five). xmax = 0 tells a fresh row from a replaced one.
# The time of the first vote comes back as microseconds since the epoch: an integer is
# cheaper to read than a timestamptz.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UPSERT_SQL = """
INSERT INTO annotations_feedback
    (project_id, message_id, end_user, rating, reasons, comment, source, created_at, updated_at)
SELECT %(project)s, m.id, %(end_user)s, %(rating)s, %(reasons)s::jsonb, %(comment)s,
       %(source)s, %(now)s, %(now)s
FROM annotations_message m
JOIN annotations_conversation c ON c.id = m.conversation_id
WHERE c.project_id = %(project)s AND c.external_id = %(conversation)s
  AND m.external_id = %(message)s AND m.role = 'assistant' AND m.tool_calls = '[]'::jsonb
ON CONFLICT (message_id, end_user) DO UPDATE SET
    rating = EXCLUDED.rating, reasons = EXCLUDED.reasons, comment = EXCLUDED.comment,
    source = EXCLUDED.source, updated_at = EXCLUDED.updated_at
RETURNING (extract(epoch FROM created_at) * 1000000)::bigint, (xmax = 0) AS inserted
"""


def _feedback_upsert_postgresql(
    *,
    project: Project,
    conversation_id: str,
    message_id: str,
    end_user: str,
    rating: str,
    reasons: list[str],
    comment: str,
    source: str,
    now: datetime,
) -> tuple[datetime, bool] | None:
    """(time of the first vote, whether this one is the first); None if nothing was written."""
    with prepared_cursor() as cursor:
        cursor.execute(
            _UPSERT_SQL,
            {
                "project": project.pk,
                "conversation": conversation_id,
                "message": message_id,
                "end_user": end_user,
                "rating": rating,
                "reasons": orjson.dumps(reasons).decode(),
                "comment": comment,
                "source": source,
                "now": now,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    created_micros, inserted = row
    return _EPOCH + timedelta(microseconds=created_micros), inserted


@transaction.atomic
def feedback_withdraw(
    *, project: Project, conversation_id: str, message_id: str, end_user: str
) -> bool:
    """Remove an end user's vote on a message; True when there was one."""
    message = message_get(project=project, conversation_id=conversation_id, message_id=message_id)
    deleted, _ = Feedback.objects.filter(message=message, end_user=end_user).delete()
    return deleted > 0
