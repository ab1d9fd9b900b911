"""Reads for the reviewer pages (queues and labeling) that annotations.selectors lacks."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, Sum

from annotations.errors import NotFound
from annotations.models import (
    Annotation,
    Feedback,
    Message,
    Project,
    Queue,
)
from annotations.services.queues import annotator_key_for


def queue_get(*, project: Project, queue_id: int) -> Queue:
    """A queue of the project (archived ones too); NotFound for any other id."""
    queue = Queue.objects.filter(project=project, pk=queue_id).first()
    if queue is None:
        raise NotFound("No such queue in this project.")
    return queue


def queue_progress(*, queue: Queue) -> dict[str, int]:
    """Items, items done and annotations given in one queue, in one query."""
    totals = queue.items.aggregate(
        item_count=Count("pk"),
        done_count=Count("pk", filter=Q(is_done=True)),
        annotation_total=Sum("annotation_count"),
    )
    return {
        "item_count": totals["item_count"],
        "done_count": totals["done_count"],
        "annotation_total": totals["annotation_total"] or 0,
        "annotations_wanted": totals["item_count"] * queue.annotations_per_item,
    }


def queue_reviewer_ids(*, project: Project) -> dict[int, set[int]]:
    """The reviewers assigned to each queue of the project; queues open to all are absent."""
    assigned: dict[int, set[int]] = {}
    rows = Queue.reviewers.through.objects.filter(queue__project=project).values_list(
        "queue_id", "user_id"
    )
    for queue_id, user_id in rows:
        assigned.setdefault(queue_id, set()).add(user_id)
    return assigned


def queue_open_to(*, queue: Queue, user: AbstractBaseUser) -> bool:
    """Whether a reviewer may take items: the queue names no reviewers, or names them."""
    counts = Queue.reviewers.through.objects.filter(queue=queue).aggregate(
        assigned=Count("pk"), mine=Count("pk", filter=Q(user_id=user.pk))
    )
    return counts["assigned"] == 0 or counts["mine"] > 0


def feedback_for_message(*, message: Message) -> list[Feedback]:
    """End users' votes on an answer, oldest first."""
    return list(Feedback.objects.filter(message=message).order_by("created_at", "id"))


def annotation_of_reviewer(*, message: Message, reviewer: AbstractBaseUser) -> Annotation | None:
    """The reviewer's own annotation of an answer, if they labeled it before."""
    return Annotation.objects.filter(
        message=message, annotator_key=annotator_key_for(reviewer)
    ).first()


def annotation_count_by_reviewer(*, queue: Queue, reviewer: AbstractBaseUser) -> int:
    return Annotation.objects.filter(
        queue_item__queue=queue, annotator_key=annotator_key_for(reviewer)
    ).count()
