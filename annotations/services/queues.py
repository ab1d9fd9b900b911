"""Annotation queues: building them from a message filter, and handing out work safely.

Claiming: a reviewer gets the first open item (by the queue's order) that they have
neither labeled nor skipped and that has a free slot, where slots are the annotations
wanted minus those given minus unexpired leases held by others. The item row is
locked (FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent reviewers pass each other
instead of waiting) and the free slot is counted again under the lock before the
lease is written, so no item is ever leased or annotated beyond what was asked.
SQLite takes the database write lock for the whole transaction, which gives the same
guarantee, one reviewer at a time.
"""

import dataclasses
import datetime
import time
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.db import prepared_cursor
from annotations.errors import Conflict, Forbidden, InvalidInput, NotFound
from annotations.filters import queue_filters_clean
from annotations.models import (
    Annotation,
    Claim,
    Feedback,
    Membership,
    Message,
    Project,
    Queue,
    QueueItem,
    Skip,
)
from annotations.selectors import message_filter
from annotations.services.projects import LABELING_ROLES

CLAIM_ATTEMPTS = 20
LOCKED_RETRY_SECONDS = 0.02


def annotator_key_for(user: AbstractBaseUser) -> str:
    return f"user:{user.pk}"


@transaction.atomic
def queue_create(
    *,
    project: Project,
    name: str,
    filters: dict[str, Any],
    order: str = Queue.Order.DOWN_FIRST,
    annotations_per_item: int = 1,
    lease_minutes: int = 30,
    instructions: str = "",
    reviewers: Iterable[AbstractBaseUser] = (),
    created_by: AbstractBaseUser | None = None,
    fill_later: bool = False,
) -> Queue:
    """Create a queue from a message filter and fill it with the matching answers.

    With fill_later, the filling is a task sent once the queue is committed (a large
    project's answers take longer than a web request should); until it has run, the
    queue's refreshed_at is empty.
    """
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("give the queue a name")]
    if order not in Queue.Order.values:
        errors["order"] = [_("one of %(values)s") % {"values": ", ".join(Queue.Order.values)}]
    if not 1 <= annotations_per_item <= 10:
        errors["annotations_per_item"] = [_("from 1 to 10")]
    if not 1 <= lease_minutes <= 24 * 60:
        errors["lease_minutes"] = [_("from 1 minute to 24 hours")]
    clean_filters, filter_errors = queue_filters_clean(filters)
    errors.update(filter_errors)
    reviewers = list(reviewers)
    labelers = set(
        Membership.objects.filter(
            project=project, user__in=reviewers, role__in=LABELING_ROLES
        ).values_list("user_id", flat=True)
    )
    if any(reviewer.pk not in labelers for reviewer in reviewers):
        errors["reviewers"] = [_("reviewers must be the project's reviewers or admins")]
    if errors:
        raise InvalidInput(_("The queue is not valid."), fields=errors)
    queue = Queue.objects.create(
        project=project,
        name=name.strip(),
        filters=clean_filters,
        order=order,
        annotations_per_item=annotations_per_item,
        lease_minutes=lease_minutes,
        instructions=instructions,
        created_by=created_by,
    )
    queue.reviewers.set(reviewers)
    if fill_later:
        from annotations.tasks import refresh_queue

        transaction.on_commit(lambda: refresh_queue.delay(queue.pk))
    else:
        queue_refresh(queue=queue)
    return queue


class _EpochSeconds(Func):
    """Whole seconds since 1970 of a timestamp (rounded down, as int(timestamp()))."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return self.as_sql(
            compiler, connection, template="floor(extract(epoch FROM %(expressions)s))::bigint"
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return self.as_sql(
            # '%%%%s': the template's formatting and then the driver's each halve the %.
            compiler,
            connection,
            template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)",
        )


class _RandomKey(Func):
    """A random integer in [0, 10**12), drawn per row."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return "floor(random() * 1e12)::bigint", []

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return "(abs(random()) %% 1000000000000)", []


def _sort_key(order: str) -> Any:
    """The item's place in the queue, computed by the database from its answer: lower
    comes first. Thumbs-down first: rank 0 for a down vote, 1 for no vote, 2 for only
    up votes, then the oldest."""
    seconds = _EpochSeconds("created_at")
    if order == Queue.Order.DOWN_FIRST:
        rank = Case(
            When(Exists(Feedback.objects.filter(message=OuterRef("pk"), rating="down")), then=0),
            When(Exists(Feedback.objects.filter(message=OuterRef("pk"), rating="up")), then=2),
            default=1,
            output_field=BigIntegerField(),
        )
        return rank * Value(10**11) + seconds
    if order == Queue.Order.NEWEST:
        return -seconds
    if order == Queue.Order.RANDOM:
        return _RandomKey()
    return seconds


@transaction.atomic
def queue_refresh(*, queue: Queue) -> int:
    """Add the answers that match the queue's filter and are not in it yet; returns the count.

    Safe to run again at any time (by hand or on a schedule): items are never duplicated.
    One INSERT ... SELECT: the database reads the matching answers and writes the items
    without sending them through Python (a million answers in seconds).
    """
    Queue.objects.select_for_update().filter(pk=queue.pk).first()
    answers = (
        message_filter(project=queue.project, filters=queue.filters)
        .exclude(Exists(QueueItem.objects.filter(queue=queue, message=OuterRef("pk"))))
        .annotate(item_message=F("pk"), item_sort_key=_sort_key(queue.order))
        .values_list("item_message", "item_sort_key")
        .order_by()
    )
    now = timezone.now()
    added = 0
    try:
        select_sql, params = answers.query.sql_with_params()
    except EmptyResultSet:
        select_sql = None
    if select_sql is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {QueueItem._meta.db_table}
                    (queue_id, message_id, sort_key, annotation_count, is_done, created_at)
                SELECT %s, answer.item_message, answer.item_sort_key, 0, %s, %s
                FROM ({select_sql}) AS answer
                WHERE true
                ON CONFLICT (queue_id, message_id) DO NOTHING""",  # noqa: S608
                [queue.pk, False, now, *params],
            )
            added = cursor.rowcount
    Queue.objects.filter(pk=queue.pk).update(refreshed_at=now)
    return added


def _active_claims(now: datetime.datetime) -> Subquery:
    return Subquery(
        Claim.objects.filter(item=OuterRef("pk"), expires_at__gt=now)
        .order_by()
        .values("item")
        .annotate(held=Count("pk"))
        .values("held")
    )


def queue_claim_next(*, queue: Queue, reviewer: AbstractBaseUser) -> QueueItem | None:
    """Lease the next item this reviewer should label, or None when nothing is left for them.

    A reviewer who already holds an unexpired lease in this queue gets that item back.
    A queue with assigned reviewers hands work only to them and to project admins.
    """
    if connection.vendor == "postgresql":
        return _claim_next_postgresql(queue=queue, reviewer=reviewer)
    return _claim_next_portable(queue=queue, reviewer=reviewer)


# The claim on PostgreSQL: the function annotations_claim_next (migration 0008 says how
# it works) leases the item, and the same statement reads the item with its answer:
# whoever claims an item goes on to show or label it.
_ITEM_COLUMNS = (
    "i.id, i.queue_id, i.message_id, i.sort_key, i.annotation_count, i.is_done, i.created_at"
)
_MESSAGE_FIELDS = tuple(Message._meta.concrete_fields)
_MESSAGE_COLUMNS = ", ".join(f"m.{field.column}" for field in _MESSAGE_FIELDS)

# The call, the columns it yields and the joins they need, as parts that the queue's
# other statements (submit-and-next) can put around a call of their own. Built from the
# model's column names; every value is a query parameter (see claim_params).
CLAIM_CALL = """annotations_claim_next(
    %(queue)s::bigint, %(project)s::bigint, %(reviewer)s::bigint, %(superuser)s::boolean,
    %(annotator_key)s::text, %(per_item)s::integer, %(now)s::timestamptz,
    %(expires)s::timestamptz)"""
CLAIM_COLUMNS = f"claim.claim_status, {_ITEM_COLUMNS}, {_MESSAGE_COLUMNS}"
CLAIM_JOINS = """LEFT JOIN annotations_queueitem i ON i.id = claim.claimed_item
LEFT JOIN annotations_message m ON m.id = i.message_id"""
_CLAIM_SQL = f"SELECT {CLAIM_COLUMNS} FROM {CLAIM_CALL} AS claim {CLAIM_JOINS}"  # noqa: S608

# What a claim statement's row says besides an item or nothing left.
CLAIM_LOCKED = "locked"  # only items other claims hold for a moment: look again shortly
CLAIM_REREAD = "reread"  # leased, but added after the statement began: read it again


def claim_params(*, queue: Queue, reviewer: AbstractBaseUser) -> dict[str, Any]:
    now = timezone.now()
    return {
        "queue": queue.pk,
        "project": queue.project_id,
        "reviewer": reviewer.pk,
        "superuser": bool(getattr(reviewer, "is_superuser", False)),
        "annotator_key": annotator_key_for(reviewer),
        "per_item": queue.annotations_per_item,
        "now": now,
        "expires": now + datetime.timedelta(minutes=queue.lease_minutes),
    }


def claim_outcome(*, queue: Queue, row: tuple | list) -> QueueItem | str | None:
    """The leased item from a row of CLAIM_COLUMNS; None when nothing is left for the
    reviewer; CLAIM_LOCKED or CLAIM_REREAD when the claim should run again."""
    status, *columns = row
    if status == "forbidden":
        raise Forbidden("This queue is assigned to other reviewers.")
    if status == "locked":
        # Other reviewers' claims or submissions hold the open items for a few
        # milliseconds.
        return CLAIM_LOCKED
    if status == "empty":
        return None
    if columns[0] is None:
        # Added to the queue after this statement began (the lease is held, the next
        # call renews it).
        return CLAIM_REREAD
    item_id, queue_id, message_id, sort_key, count, is_done, created_at = columns[:7]
    item = QueueItem(
        id=item_id,
        queue_id=queue_id,
        message_id=message_id,
        sort_key=sort_key,
        annotation_count=count,
        is_done=is_done,
        created_at=created_at,
    )
    item.queue = queue
    item.message = _message_from_row(columns[7:])
    return item


def _claim_next_postgresql(*, queue: Queue, reviewer: AbstractBaseUser) -> QueueItem | None:
    params = claim_params(queue=queue, reviewer=reviewer)
    # Prepared after a few runs on a connection: planning the statement costs more
    # than running it.
    with prepared_cursor() as cursor:
        for _ in range(CLAIM_ATTEMPTS):
            cursor.execute(_CLAIM_SQL, params)
            outcome = claim_outcome(queue=queue, row=cursor.fetchone())
            if outcome == CLAIM_LOCKED:
                time.sleep(LOCKED_RETRY_SECONDS)
            elif outcome != CLAIM_REREAD:
                return outcome
    return None


def _message_from_row(values: list[Any]) -> Message:
    """A Message from its columns as the claim statement reads them (JSON as text)."""
    converted = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(_MESSAGE_FIELDS, values, strict=True)
    ]
    return Message.from_db(
        connection.alias, [field.attname for field in _MESSAGE_FIELDS], converted
    )


@transaction.atomic
def _claim_next_portable(*, queue: Queue, reviewer: AbstractBaseUser) -> QueueItem | None:
    _check_assigned(queue=queue, reviewer=reviewer)
    now = timezone.now()
    expires_at = now + datetime.timedelta(minutes=queue.lease_minutes)
    annotator_key = annotator_key_for(reviewer)
    # A lease on an answer the reviewer labeled since (in another queue, or by editing
    # their labels) would otherwise come back on every claim.
    Claim.objects.filter(
        Exists(
            Annotation.objects.filter(
                message=OuterRef("item__message_id"), annotator_key=annotator_key
            )
        ),
        item__queue=queue,
        reviewer=reviewer,
    ).delete()
    held = (
        Claim.objects.select_related("item__message")
        .filter(item__queue=queue, reviewer=reviewer, expires_at__gt=now, item__is_done=False)
        .order_by("created_at")
        .first()
    )
    if held is not None:
        Claim.objects.filter(pk=held.pk).update(expires_at=expires_at)
        return held.item

    candidates = (
        QueueItem.objects.filter(queue=queue, is_done=False)
        .exclude(
            Exists(
                Annotation.objects.filter(
                    message=OuterRef("message_id"), annotator_key=annotator_key
                )
            )
        )
        .exclude(Exists(Skip.objects.filter(item=OuterRef("pk"), reviewer=reviewer)))
        .annotate(held=Coalesce(_active_claims(now), Value(0)))
        .filter(annotation_count__lt=queue.annotations_per_item - F("held"))
        .order_by("sort_key", "id")
        .select_related("message")
    )
    # SQLite holds the database write lock for the whole transaction (IMMEDIATE), so
    # the free slots counted by this query cannot change before the lease is written.
    item = candidates.first()
    if item is None:
        return None
    item.queue = queue
    # One statement that also replaces this reviewer's expired lease, if any.
    Claim.objects.bulk_create(
        [Claim(item=item, reviewer=reviewer, created_at=now, expires_at=expires_at)],
        update_conflicts=True,
        unique_fields=["item", "reviewer"],
        update_fields=["created_at", "expires_at"],
    )
    return item


def _check_assigned(*, queue: Queue, reviewer: AbstractBaseUser) -> None:
    assigned = list(queue.reviewers.values_list("pk", flat=True))
    if not assigned or reviewer.pk in assigned or reviewer.is_superuser:
        return
    if Membership.objects.filter(
        project_id=queue.project_id, user=reviewer, role=Membership.Role.ADMIN
    ).exists():
        return
    raise Forbidden("This queue is assigned to other reviewers.")


@transaction.atomic
def claim_renew(*, item: QueueItem, reviewer: AbstractBaseUser) -> datetime.datetime:
    """Extend the reviewer's lease on an item while they work; Conflict if it was lost.

    The item is locked first, as a claim locks it, and the leases are read after the
    lock. A lease is lost when the item's annotations and the leases taken after it
    fill the item: those claims judged this lease expired (at the expiry boundary, or
    by another server's clock) and took its slot, so the renewal fails instead of two
    reviewers holding one slot.
    """
    now = timezone.now()
    locked = QueueItem.objects.select_for_update().select_related("queue").get(pk=item.pk)
    lease = Claim.objects.filter(item=locked, reviewer=reviewer, expires_at__gt=now).first()
    taken_later = (
        Claim.objects.filter(item=locked, expires_at__gt=now, created_at__gt=lease.created_at)
        .exclude(reviewer=reviewer)
        .count()
        if lease is not None
        else 0
    )
    if lease is None or locked.annotation_count + taken_later >= locked.queue.annotations_per_item:
        raise Conflict("Your lease on this item has expired.")
    lease.expires_at = now + datetime.timedelta(minutes=locked.queue.lease_minutes)
    lease.save(update_fields=["expires_at"])
    return lease.expires_at


@transaction.atomic
def claim_release(*, item: QueueItem, reviewer: AbstractBaseUser) -> None:
    """Give an item back without labeling it."""
    Claim.objects.filter(item=item, reviewer=reviewer).delete()


@transaction.atomic
def queue_item_skip(*, item: QueueItem, reviewer: AbstractBaseUser) -> None:
    """Pass on an item: release it and never offer it to this reviewer again."""
    Claim.objects.filter(item=item, reviewer=reviewer).delete()
    Skip.objects.get_or_create(item=item, reviewer=reviewer)


SLOT_TAKEN_MESSAGE = "This item already has the annotations it needs; your lease had expired."
# Run after the item is locked, as a statement of its own: in READ COMMITTED each
# statement reads a fresh snapshot, so leases and labels committed while the lock was
# awaited are counted (within the locking statement they would not be).
SLOT_SQL = """
SELECT i.id, i.message_id, i.annotation_count, q.annotations_per_item,
    EXISTS (
        SELECT 1 FROM annotations_claim c
        WHERE c.item_id = i.id AND c.reviewer_id = %(reviewer)s AND c.expires_at > %(now)s),
    (SELECT count(*) FROM annotations_claim c
     WHERE c.item_id = i.id AND c.expires_at > %(now)s AND c.reviewer_id <> %(reviewer)s),
    EXISTS (
        SELECT 1 FROM annotations_annotation a
        WHERE a.message_id = i.message_id AND a.annotator_key = %(annotator_key)s)
FROM annotations_queueitem i JOIN annotations_queue q ON q.id = i.queue_id
WHERE i.id = %(item)s
"""


def slot_has_room(*, count: int, per_item: int, holds: bool, held_by_others: int) -> bool:
    """Whether a new annotation fits the item: never beyond the count it wants; a
    reviewer holding a lease has a slot kept, others need one nobody holds."""
    return count < per_item and (holds or per_item - count - held_by_others > 0)


@dataclasses.dataclass(frozen=True)
class SubmitSlot:
    """A queue item locked for a submission."""

    item_id: int
    message_id: int
    per_item: int
    # The reviewer already labeled the answer: an edit, which takes no new slot.
    labeled: bool


def queue_item_lock_for_submit(*, item_id: int, reviewer: AbstractBaseUser) -> SubmitSlot:
    """Lock a queue item for a submission and check the reviewer may still fill a slot.

    An edit of one's own labels takes no new slot, even on a completed item. Must run
    inside the submitting transaction (SQLite holds its write lock for it).
    """
    with connection.cursor() as cursor:
        if connection.features.has_select_for_update:
            cursor.execute(
                "SELECT id FROM annotations_queueitem WHERE id = %s FOR UPDATE", [item_id]
            )
        cursor.execute(
            SLOT_SQL,
            {
                "item": item_id,
                "reviewer": reviewer.pk,
                "annotator_key": annotator_key_for(reviewer),
                "now": connection.ops.adapt_datetimefield_value(timezone.now()),
            },
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such queue item.")
    item_id, message_id, count, per_item, holds, held_by_others, labeled = row
    slot = SubmitSlot(
        item_id=item_id, message_id=message_id, per_item=per_item, labeled=bool(labeled)
    )
    if not slot.labeled and not slot_has_room(
        count=count, per_item=per_item, holds=bool(holds), held_by_others=held_by_others
    ):
        raise Conflict(SLOT_TAKEN_MESSAGE, fields={"item": ["complete"]})
    return slot


def queue_item_count_annotation(*, slot: SubmitSlot, reviewer: AbstractBaseUser) -> None:
    """Record one more annotation on a locked item and free the reviewer's lease."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotations_queueitem SET annotation_count = annotation_count + 1,"
            " is_done = (annotation_count + 1 >= %s) WHERE id = %s",
            [slot.per_item, slot.item_id],
        )
        cursor.execute(
            "DELETE FROM annotations_claim WHERE item_id = %s AND reviewer_id = %s",
            [slot.item_id, reviewer.pk],
        )


def queue_archive(*, queue: Queue) -> Queue:
    queue.is_archived = True
    queue.save(update_fields=["is_archived"])
    return queue
