"""Conversation ingestion: create conversations and append messages, idempotently.

A replay of a known conversation and message id creates nothing. Concurrent
requests for the same conversation id are serialized by a transaction-scoped
lock on (project, external id): PostgreSQL advisory locks, and on SQLite the
database write lock that every IMMEDIATE transaction takes. Under that lock
"does it exist" is exact, so 201 vs 200 is exact and positions never collide.
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from annotations.models import Conversation, Message, Project
from annotations.payloads import ConversationIn
from annotations.services.bulk import rows_insert

logger = logging.getLogger(__name__)

CREATED = "created"
EXISTED = "existed"
FAILED = "error"

CONVERSATION_FIELDS = (
    "project_id",
    "external_id",
    "end_user",
    "tags",
    "metadata",
    "created_at",
    "updated_at",
)
MESSAGE_FIELDS = (
    "conversation_id",
    "project_id",
    "external_id",
    "position",
    "role",
    "content",
    "model",
    "prompt_name",
    "prompt_version",
    "contexts",
    "latency_ms",
    "usage",
    "metadata",
    "tool_calls",
    "tool_call_id",
    "created_at",
)


@dataclass(frozen=True)
class IngestResult:
    external_id: str
    status: str
    messages_created: int = 0
    error: dict[str, Any] = field(default_factory=dict)


# What the database refuses in a row; an outage (OperationalError: a lost connection,
# a lock timeout) fails the request instead, so that the client retries the batch
# rather than item by item, each waiting for the same outage.
REFUSED = (DataError, IntegrityError)


def conversation_batch_ingest(
    *, project: Project, conversations: list[ConversationIn]
) -> list[IngestResult]:
    """Write validated conversations; one result per item, in the same order.

    All items go in one transaction. Should the database refuse one of them, the
    items are written again one by one so that each fails or succeeds alone.
    """
    try:
        with transaction.atomic():
            return _ingest(project=project, conversations=conversations)
    except REFUSED:
        if len(conversations) == 1:
            raise
        logger.warning("batch ingest failed as a whole; retrying item by item", exc_info=True)
    results = []
    for conversation in conversations:
        try:
            with transaction.atomic():
                results.extend(_ingest(project=project, conversations=[conversation]))
        except REFUSED:
            logger.warning("ingest of %r failed", conversation.id, exc_info=True)
            results.append(
                IngestResult(
                    external_id=conversation.id,
                    status=FAILED,
                    error={
                        "code": "rejected_by_database",
                        # The database's own words stay in the log.
                        "message": "The database refused this conversation.",
                        "fields": {},
                    },
                )
            )
    return results


def conversation_ingest(*, project: Project, conversation: ConversationIn) -> IngestResult:
    """Create one conversation or append its new messages."""
    return conversation_batch_ingest(project=project, conversations=[conversation])[0]


def _lock_key(project_id: int, external_id: str) -> int:
    digest = hashlib.blake2b(f"{project_id}:{external_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_conversations(project: Project, external_ids: Iterable[str]) -> None:
    if connection.vendor != "postgresql":
        return
    # Sorted, so two batches sharing ids always lock in the same order and never deadlock.
    keys = sorted({_lock_key(project.pk, external_id) for external_id in external_ids})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])


def _ingest(*, project: Project, conversations: list[ConversationIn]) -> list[IngestResult]:
    now = timezone.now()
    external_ids = [item.id for item in conversations]
    _lock_conversations(project, external_ids)

    existing = {
        row.external_id: row
        for row in Conversation.objects.filter(project=project, external_id__in=external_ids).only(
            "id", "external_id", "tags"
        )
    }
    new_items = [item for item in conversations if item.id not in existing]
    rows_insert(
        model=Conversation,
        fields=CONVERSATION_FIELDS,
        rows=[
            (
                project.pk,
                item.id,
                item.user,
                list(dict.fromkeys(item.tags)),
                item.metadata,
                item.created_at or now,
                now,
            )
            for item in new_items
        ],
    )
    new_ids = (
        dict(
            Conversation.objects.filter(
                project=project, external_id__in=[item.id for item in new_items]
            ).values_list("external_id", "id")
        )
        if new_items
        else {}
    )

    known_ids: dict[int, set[str]] = {}
    last_position: dict[int, int] = {}
    if existing:
        rows = Message.objects.filter(
            conversation_id__in=[row.pk for row in existing.values()]
        ).values_list("conversation_id", "external_id", "position")
        for conversation_id, external_id, position in rows:
            known_ids.setdefault(conversation_id, set()).add(external_id)
            last_position[conversation_id] = max(last_position.get(conversation_id, -1), position)

    messages: list[tuple] = []
    retagged: list[Conversation] = []
    touched: list[int] = []
    results: list[IngestResult] = []
    for item in conversations:
        is_new = item.id not in existing
        conversation_pk = new_ids[item.id] if is_new else existing[item.id].pk
        known = known_ids.get(conversation_pk, set())
        position = last_position.get(conversation_pk, -1)
        default_time = (item.created_at or now) if is_new else now
        created = 0
        for message in item.messages:
            if message.id in known:
                continue
            position += 1
            created += 1
            prompt = message.prompt
            messages.append(
                (
                    conversation_pk,
                    project.pk,
                    message.id,
                    position,
                    message.role,
                    message.content or "",
                    message.model or "",
                    prompt.name if prompt else "",
                    prompt.version if prompt else "",
                    message.contexts,
                    message.latency_ms,
                    message.usage,
                    message.metadata,
                    message.tool_calls or [],
                    message.tool_call_id or "",
                    message.created_at or default_time,
                )
            )
        if not is_new:
            conversation = existing[item.id]
            merged_tags = list(dict.fromkeys([*conversation.tags, *item.tags]))
            if merged_tags != conversation.tags:
                conversation.tags = merged_tags
                conversation.updated_at = now
                retagged.append(conversation)
            elif created:
                touched.append(conversation.pk)
        results.append(
            IngestResult(
                external_id=item.id,
                status=CREATED if is_new else EXISTED,
                messages_created=created,
            )
        )

    rows_insert(model=Message, fields=MESSAGE_FIELDS, rows=messages)
    if retagged:
        Conversation.objects.bulk_update(retagged, ["tags", "updated_at"])
    if touched:
        Conversation.objects.filter(pk__in=touched).update(updated_at=now)
    return results
