"""Reads for the conversation browser and the project settings pages (no writes)."""

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Substr

from annotations.models import (
    Annotation,
    Feedback,
    Membership,
    Message,
    Project,
    ProjectKey,
    Rubric,
)
from annotations.selectors import message_filter

SNIPPET_CHARS = 200


def _count_of(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT(*) per answer: one per column, so joins never multiply rows."""
    counted = queryset.order_by().values("message_id").annotate(total=Count("id")).values("total")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def answer_page(
    *,
    project: Project,
    filters: dict[str, Any],
    after: tuple[datetime.datetime, int] | None = None,
    before: tuple[datetime.datetime, int] | None = None,
    limit: int = 50,
) -> tuple[list[Message], bool]:
    """One page of answers matching a clean filter, newest first, in one query.

    Keyset pagination on (created_at, id): `after` continues with older answers,
    `before` goes back to newer ones. Returns the page and whether more rows lie
    beyond it in the direction of travel. Each answer carries `snippet` (the
    first characters of its content), `thumbs_up`, `thumbs_down`,
    `annotation_count` and its conversation.
    """
    answers = (
        message_filter(project=project, filters=filters)
        .select_related("conversation")
        .only(
            "id",
            "external_id",
            "created_at",
            "model",
            "prompt_name",
            "prompt_version",
            "conversation",
            "conversation__external_id",
        )
        .annotate(
            # One character more than shown, so the template knows it was cut.
            snippet=Substr("content", 1, SNIPPET_CHARS + 1),
            thumbs_up=_count_of(Feedback.objects.filter(message=OuterRef("pk"), rating="up")),
            thumbs_down=_count_of(Feedback.objects.filter(message=OuterRef("pk"), rating="down")),
            annotation_count=_count_of(Annotation.objects.filter(message=OuterRef("pk"))),
        )
    )
    if before is not None:
        created_at, pk = before
        answers = answers.filter(
            Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=pk)
        ).order_by("created_at", "id")
    else:
        if after is not None:
            created_at, pk = after
            answers = answers.filter(
                Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk)
            )
        answers = answers.order_by("-created_at", "-id")
    rows = list(answers[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if before is not None:
        rows.reverse()
    return rows, more


def rubric_list(*, project: Project) -> list[Rubric]:
    """Every rubric version of a project, newest first, with how many annotations use it."""
    return list(
        Rubric.objects.filter(project=project)
        .select_related("created_by")
        .annotate(annotation_count=Count("annotations"))
        .order_by("-version")
    )


def membership_get(*, project: Project, user_id: int) -> Membership | None:
    return (
        Membership.objects.filter(project=project, user_id=user_id).select_related("user").first()
    )


def admin_count(*, project: Project) -> int:
    return Membership.objects.filter(project=project, role=Membership.Role.ADMIN).count()


def user_by_username(*, username: str) -> AbstractBaseUser | None:
    user_model = get_user_model()
    return user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()


def project_key_list(*, project: Project) -> list[ProjectKey]:
    """All keys of a project, revoked ones too, newest first."""
    return list(
        ProjectKey.objects.filter(project=project)
        .select_related("created_by")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at", "-id")
    )


def project_key_get(*, project: Project, key_id: int) -> ProjectKey | None:
    return ProjectKey.objects.filter(project=project, pk=key_id).first()


def rubric_questions(*, project: Project) -> dict[int, list[dict[str, Any]]]:
    """The questions of every rubric version of a project, by version number."""
    return dict(Rubric.objects.filter(project=project).values_list("version", "questions"))
