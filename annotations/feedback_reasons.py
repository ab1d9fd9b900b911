"""The reasons the widget offers on a thumbs-down, in English and Korean."""

from typing import Any

from annotations.models import Project

DEFAULT_REASONS = [
    {"slug": "incorrect", "label": {"en": "Incorrect", "ko": "틀린 정보"}},
    {"slug": "not_helpful", "label": {"en": "Not helpful", "ko": "도움이 안 됨"}},
    {"slug": "outdated", "label": {"en": "Outdated", "ko": "오래된 정보"}},
    {"slug": "not_grounded", "label": {"en": "Not in the sources", "ko": "출처에 없는 내용"}},
    {"slug": "harmful", "label": {"en": "Harmful", "ko": "유해함"}},
]


def project_reasons(project: Project) -> list[dict[str, Any]]:
    return project.feedback_reasons or DEFAULT_REASONS


def reason_labels(project: Project, language: str) -> dict[str, str]:
    """{slug: label in the language} of the project's reasons (a vote may also hold
    slugs the project has since removed: show those as they are)."""
    from annotations.rubrics import text_of

    return {
        reason["slug"]: text_of(reason.get("label"), language)
        for reason in project_reasons(project)
    }
