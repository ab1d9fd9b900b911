from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max

from annotations.errors import InvalidInput
from annotations.models import Project, Rubric
from annotations.rubrics import default_rag_questions, questions_validate


@transaction.atomic
def rubric_publish(
    *,
    project: Project,
    questions: list[dict[str, Any]],
    name: str = "Answer quality",
    created_by: AbstractBaseUser | None = None,
) -> Rubric:
    """Publish a new rubric version and make it the active one; older versions stay."""
    errors = questions_validate(questions)
    if errors:
        raise InvalidInput("The rubric is not valid.", fields=errors)
    Project.objects.select_for_update().get(pk=project.pk)
    latest = Rubric.objects.filter(project=project).aggregate(version=Max("version"))["version"]
    Rubric.objects.filter(project=project, is_active=True).update(is_active=False)
    return Rubric.objects.create(
        project=project,
        version=(latest or 0) + 1,
        name=name or "Answer quality",
        questions=questions,
        is_active=True,
        created_by=created_by,
    )


def rubric_create_default(
    *, project: Project, created_by: AbstractBaseUser | None = None
) -> Rubric:
    """Give a new project the RAG rubric: correctness, groundedness, helpfulness, errors..."""
    return rubric_publish(
        project=project,
        questions=default_rag_questions(),
        name="RAG answer quality",
        created_by=created_by,
    )
