from typing import Any

import orjson
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.db import prepared_cursor
from annotations.errors import Conflict, Forbidden, InvalidInput, NotFound
from annotations.models import (
    Annotation,
    AnnotationRevision,
    Message,
    Project,
    Queue,
    QueueItem,
    Rubric,
)
from annotations.rubrics import answers_validate, corrected_answer_of
from annotations.selectors import message_get, rubric_active
from annotations.services.queues import (
    CLAIM_CALL,
    CLAIM_COLUMNS,
    CLAIM_JOINS,
    CLAIM_LOCKED,
    CLAIM_REREAD,
    SLOT_TAKEN_MESSAGE,
    annotator_key_for,
    claim_outcome,
    claim_params,
    queue_claim_next,
    queue_item_count_annotation,
    queue_item_lock_for_submit,
)

SNAPSHOT_FIELDS = ("answers", "corrected_answer", "rubric_id")


def _snapshot(annotation: Annotation) -> dict[str, Any]:
    return {
        "answers": annotation.answers,
        "corrected_answer": annotation.corrected_answer,
        "rubric_version": annotation.rubric.version,
    }


def _validated(rubric: Rubric, answers: Any) -> tuple[dict[str, Any], str]:
    """The answers cleaned against the rubric, and the corrected answer among them."""
    clean, errors = answers_validate(rubric.questions, answers)
    if errors:
        raise InvalidInput("The answers do not fit the rubric.", fields=errors)
    return clean, corrected_answer_of(rubric.questions, clean)


def _write(
    *,
    message: Message,
    rubric: Rubric,
    annotator_key: str,
    annotator_name: str,
    annotator: AbstractBaseUser | None,
    source: str,
    answers: Any,
    time_spent_ms: int | None,
    queue_item_id: int | None,
    editor_name: str,
    new: bool = False,
) -> tuple[Annotation, bool]:
    clean, corrected = _validated(rubric, answers)
    now = timezone.now()
    existing = (
        None
        if new
        else Annotation.objects.select_for_update()
        .select_related("rubric")
        .filter(message=message, annotator_key=annotator_key)
        .first()
    )
    if existing is None:
        try:
            with transaction.atomic():
                annotation = Annotation.objects.create(
                    project_id=message.project_id,
                    message=message,
                    rubric=rubric,
                    annotator=annotator,
                    annotator_key=annotator_key,
                    annotator_name=annotator_name,
                    source=source,
                    queue_item_id=queue_item_id,
                    answers=clean,
                    corrected_answer=corrected,
                    time_spent_ms=time_spent_ms,
                    created_at=now,
                    updated_at=now,
                )
            return annotation, True
        except IntegrityError:
            existing = (
                Annotation.objects.select_for_update()
                .select_related("rubric")
                .get(message=message, annotator_key=annotator_key)
            )
    before = _snapshot(existing)
    if (existing.answers, existing.corrected_answer, existing.rubric_id) == (
        clean,
        corrected,
        rubric.pk,
    ):
        return existing, False
    existing.answers = clean
    existing.corrected_answer = corrected
    existing.rubric = rubric
    existing.updated_at = now
    if time_spent_ms is not None:
        existing.time_spent_ms = (existing.time_spent_ms or 0) + time_spent_ms
    existing.save()
    AnnotationRevision.objects.create(
        annotation=existing,
        editor=annotator,
        editor_name=editor_name,
        before=before,
        after=_snapshot(existing),
        created_at=now,
    )
    return existing, False


def annotation_submit(
    *,
    message: Message,
    reviewer: AbstractBaseUser,
    answers: Any,
    rubric: Rubric | None = None,
    time_spent_ms: int | None = None,
    queue_item_id: int | None = None,
) -> tuple[Annotation, bool]:
    """A reviewer's labels on an answer; a second submission edits it and keeps history.

    With a queue item, the submission fills one of the item's slots: refused (Conflict)
    when the lease expired and others completed the item meanwhile.
    """
    submission = {
        "message": message,
        "reviewer": reviewer,
        "answers": answers,
        "rubric": rubric,
        "time_spent_ms": time_spent_ms,
        "queue_item_id": queue_item_id,
    }
    if queue_item_id is not None and connection.vendor == "postgresql":
        written = _submit_to_queue_postgresql(**submission)
        if written is not None:
            return written[0], True
        # An edit of the reviewer's own labels: the general path below keeps history.
    return _annotation_submit(**submission)


@transaction.atomic
def _annotation_submit(
    *,
    message: Message,
    reviewer: AbstractBaseUser,
    answers: Any,
    rubric: Rubric | None,
    time_spent_ms: int | None,
    queue_item_id: int | None,
) -> tuple[Annotation, bool]:
    rubric = rubric or rubric_active(project_id=message.project_id)
    if rubric is None:
        raise NotFound("This project has no rubric.")
    slot = None
    if queue_item_id is not None:
        slot = queue_item_lock_for_submit(item_id=queue_item_id, reviewer=reviewer)
        if slot.message_id != message.pk:
            raise InvalidInput(_("The queue item is for another message."))
        if slot.labeled:
            slot = None
    annotation, created = _write(
        message=message,
        rubric=rubric,
        annotator_key=annotator_key_for(reviewer),
        annotator_name=reviewer.get_username(),
        annotator=reviewer,
        source=Annotation.Source.HUMAN,
        answers=answers,
        time_spent_ms=time_spent_ms,
        queue_item_id=queue_item_id,
        editor_name=reviewer.get_username(),
        # The item lock found no labels of this reviewer on the answer.
        new=slot is not None,
    )
    if slot is not None and created:
        queue_item_count_annotation(slot=slot, reviewer=reviewer)
    return annotation, created


# Submit-and-next is the labeling page's hot path. On PostgreSQL a new annotation on a
# queue item is one call of the function annotations_submit_to_queue (migration 0011
# says how it works): lock the item, then, in a fresh snapshot, check the slot as
# queue_item_lock_for_submit does, insert the annotation, count it on the item and end
# the reviewer's lease. The general path takes nine round trips for the same.
_SUBMIT_CALL = """annotations_submit_to_queue(
    %(item)s::bigint, %(message)s::bigint, %(project)s::bigint, %(reviewer)s::bigint,
    %(annotator_key)s::text, %(annotator_name)s::text, %(rubric)s::bigint,
    %(check_rubric)s::boolean, %(answers)s::jsonb, %(corrected)s::text,
    %(time_spent)s::integer, %(now)s::timestamptz)"""
_SUBMIT_COLUMNS = "s.slot_message, s.slot_labeled, s.rubric_current, s.has_room, s.annotation_id"
_SUBMIT_SQL = f"SELECT {_SUBMIT_COLUMNS} FROM {_SUBMIT_CALL} AS s"  # noqa: S608
# The submission and the reviewer's next claim in one statement and one transaction:
# the claim (its function's statements each take a fresh snapshot, so they see the
# submission) runs only when the submission inserted the annotation; otherwise the
# claim columns are null. OFFSET 0 keeps the subquery from being merged into the join,
# so that its condition gates the call (a one-time filter) instead of filtering what
# the call returned after it ran.
_SUBMIT_AND_CLAIM_SQL = f"""
SELECT {_SUBMIT_COLUMNS}, {CLAIM_COLUMNS}
FROM {_SUBMIT_CALL} AS s
LEFT JOIN LATERAL (
    SELECT * FROM {CLAIM_CALL} AS call WHERE s.annotation_id IS NOT NULL OFFSET 0
) AS claim ON true
{CLAIM_JOINS}
"""  # noqa: S608

# The active rubric of each project, as last read by this process. Rubric versions never
# change once written; the statement above checks that this one is still the active one.
_active_rubrics: dict[int, Rubric] = {}


def _submit_to_queue_postgresql(
    *,
    message: Message,
    reviewer: AbstractBaseUser,
    answers: Any,
    rubric: Rubric | None,
    time_spent_ms: int | None,
    queue_item_id: int | None,
    claim_in: Queue | None = None,
) -> tuple[Annotation, tuple | None] | None:
    """A new annotation filling a slot of the item; None when it would be an edit.

    With `claim_in`, the same statement claims the reviewer's next item in that queue
    once the annotation is in: its row of CLAIM_COLUMNS comes second (for claim_outcome).
    """
    check_rubric = rubric is None
    for _attempt in range(2):
        if check_rubric:
            rubric = _active_rubrics.get(message.project_id)
            if rubric is None:
                rubric = rubric_active(project_id=message.project_id)
                if rubric is None:
                    raise NotFound("This project has no rubric.")
                _active_rubrics[message.project_id] = rubric
        clean, corrected = _validated(rubric, answers)
        params = {
            "item": queue_item_id,
            "message": message.pk,
            "project": message.project_id,
            "reviewer": reviewer.pk,
            "annotator_key": annotator_key_for(reviewer),
            "annotator_name": reviewer.get_username(),
            "rubric": rubric.pk,
            "check_rubric": check_rubric,
            "answers": orjson.dumps(clean).decode(),
            "corrected": corrected,
            "time_spent": time_spent_ms,
        }
        if claim_in is not None:
            params.update(claim_params(queue=claim_in, reviewer=reviewer))
        else:
            params["now"] = timezone.now()
        with prepared_cursor() as cursor:
            cursor.execute(_SUBMIT_SQL if claim_in is None else _SUBMIT_AND_CLAIM_SQL, params)
            row = cursor.fetchone()
        if row is None:
            raise NotFound("No such queue item.")
        message_id, labeled, rubric_current, has_room, annotation_id = row[:5]
        if message_id != message.pk:
            raise InvalidInput(_("The queue item is for another message."))
        if labeled:
            return None
        if not rubric_current:
            # A new version became active since this process read it.
            _active_rubrics.pop(message.project_id, None)
            continue
        if not has_room:
            raise Conflict(SLOT_TAKEN_MESSAGE, fields={"item": ["complete"]})
        if annotation_id is None:
            # Labels by this reviewer arrived in the meantime by another way.
            return None
        annotation = Annotation(
            pk=annotation_id,
            project_id=message.project_id,
            message=message,
            rubric=rubric,
            annotator=reviewer,
            annotator_key=params["annotator_key"],
            annotator_name=params["annotator_name"],
            source=Annotation.Source.HUMAN,
            queue_item_id=queue_item_id,
            answers=clean,
            corrected_answer=corrected,
            time_spent_ms=time_spent_ms,
            created_at=params["now"],
            updated_at=params["now"],
        )
        return annotation, (row[5:] if claim_in is not None else None)
    raise Conflict("The project's rubric changed twice during this submission; submit again.")


def annotation_submit_and_claim_next(
    *,
    item: QueueItem,
    reviewer: AbstractBaseUser,
    answers: Any,
    rubric: Rubric | None = None,
    time_spent_ms: int | None = None,
) -> tuple[Annotation, bool, QueueItem | None]:
    """Submit-and-next: a reviewer's labels on a queue item, then their next item there.

    Returns the annotation, whether it is new, and the next item leased to the reviewer,
    or None when none was (nothing left for them, an archived queue, or a queue assigned
    to others: `queue_claim_next` says which). A refused submission (Conflict,
    InvalidInput) claims nothing. On PostgreSQL a new annotation and the next claim are
    one statement; an edit of the reviewer's own labels takes the general path.
    """
    queue = item.queue
    claim_in = None if queue.is_archived else queue
    written = None
    if claim_in is not None and connection.vendor == "postgresql":
        try:
            written = _submit_to_queue_postgresql(
                message=item.message,
                reviewer=reviewer,
                answers=answers,
                rubric=rubric,
                time_spent_ms=time_spent_ms,
                queue_item_id=item.pk,
                claim_in=claim_in,
            )
        except OperationalError:
            # The statement failed as a whole (a deadlock, a timeout, a cancel), so
            # nothing of it was saved: save the labels and claim apart below, each in a
            # transaction of its own, so that trouble in the claim cannot cost them.
            if connection.in_atomic_block:
                raise
        if written is not None:
            annotation, claim_row = written
            try:
                claimed = claim_outcome(queue=queue, row=claim_row)
            except Forbidden:
                # Saved; the queue is assigned to others now, so no next item here.
                claimed = None
            if claimed in (CLAIM_LOCKED, CLAIM_REREAD):
                claimed = _claim_next_or_none(queue=queue, reviewer=reviewer)
            return annotation, True, claimed
    annotation, created = annotation_submit(
        message=item.message,
        reviewer=reviewer,
        answers=answers,
        rubric=rubric,
        time_spent_ms=time_spent_ms,
        queue_item_id=item.pk,
    )
    claimed = None if claim_in is None else _claim_next_or_none(queue=queue, reviewer=reviewer)
    return annotation, created, claimed


def _claim_next_or_none(*, queue: Queue, reviewer: AbstractBaseUser) -> QueueItem | None:
    try:
        return queue_claim_next(queue=queue, reviewer=reviewer)
    except Forbidden:
        return None


@transaction.atomic
def annotation_import(
    *,
    project: Project,
    conversation_id: str,
    message_id: str,
    annotator: str,
    source: str,
    answers: Any,
    corrected_answer: str | None = None,
) -> tuple[Annotation, bool]:
    """Labels from outside (another tool, a model), validated against the active rubric.

    Idempotent per (message, annotator): importing the same labels again changes nothing;
    different labels replace the old ones and are kept in the history.
    """
    message = message_get(project=project, conversation_id=conversation_id, message_id=message_id)
    if not message.is_answer:
        raise InvalidInput(
            "Only answers can be labeled: assistant messages that call no tools.",
            fields={"message": [f"message {message_id!r} is not an answer"]},
        )
    rubric = rubric_active(project_id=project.pk)
    if rubric is None:
        raise NotFound("This project has no rubric.")
    answers = dict(answers) if isinstance(answers, dict) else answers
    if corrected_answer is not None and isinstance(answers, dict):
        key = next((q["key"] for q in rubric.questions if q["type"] == "corrected_answer"), None)
        if key is None:
            raise InvalidInput(
                "The active rubric has no corrected answer question.",
                fields={"corrected_answer": ["not in the rubric"]},
            )
        answers[key] = corrected_answer
    return _write(
        message=message,
        rubric=rubric,
        annotator_key=f"{source}:{annotator}",
        annotator_name=annotator,
        annotator=None,
        source=source,
        answers=answers,
        time_spent_ms=None,
        queue_item_id=None,
        editor_name=annotator,
    )
