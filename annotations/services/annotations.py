from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.errors import InvalidInput, NotFound
from annotations.models import Annotation, AnnotationRevision, Message, Project, Rubric
from annotations.rubrics import answers_validate, corrected_answer_of
from annotations.selectors import message_get, rubric_active
from annotations.services.queues import (
    annotator_key_for,
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
    clean, errors = answers_validate(rubric.questions, answers)
    if errors:
        raise InvalidInput("The answers do not fit the rubric.", fields=errors)
    corrected = corrected_answer_of(rubric.questions, clean)
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


@transaction.atomic
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
    rubric = rubric or rubric_active(project_id=message.project_id)
    if rubric is None:
        raise NotFound("This project has no rubric.")
    slot = None
    if queue_item_id is not None:
        slot = queue_item_lock_for_submit(item_id=queue_item_id, reviewer=reviewer)
        if slot.message_id != message.pk:
            raise InvalidInput("The queue item is for another message.")
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
