"""Rubric questions and answer validation: pure functions over plain data.

A question is a dict:
    {"key": "correctness", "type": "rating", "required": True,
     "label": {"en": "Correctness", "ko": "정확성"}, "help": {"en": "...", "ko": "..."},
     "scale": {"min": 1, "max": 5, "labels": {"1": {"en": "...", "ko": "..."}, ...}},
     "options": [{"value": "hallucination", "label": {"en": "...", "ko": "..."}}, ...]}
"""

import re
from typing import Any

from django.utils.translation import gettext as _

QUESTION_TYPES = (
    "rating",
    "boolean",
    "single_choice",
    "multi_choice",
    "text",
    "corrected_answer",
    "pairwise",
)
PAIRWISE_VALUES = ("a", "b", "tie")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TEXT = 100_000


def _label(en: str, ko: str) -> dict[str, str]:
    return {"en": en, "ko": ko}


def default_rag_questions() -> list[dict[str, Any]]:
    """The rubric a new project starts with, for a RAG assistant."""

    def scale(points: list[tuple[str, str]]) -> dict[str, Any]:
        return {
            "min": 1,
            "max": 5,
            "labels": {str(i + 1): _label(en, ko) for i, (en, ko) in enumerate(points)},
        }

    return [
        {
            "key": "correctness",
            "type": "rating",
            "required": True,
            "label": _label("Correctness", "정확성"),
            "help": _label("Is the answer factually right?", "답변 내용이 사실에 맞나요?"),
            "scale": scale(
                [
                    ("Wrong", "틀림"),
                    ("Mostly wrong", "대부분 틀림"),
                    ("Partly right", "일부 맞음"),
                    ("Mostly right", "대부분 맞음"),
                    ("Fully right", "완전히 맞음"),
                ]
            ),
        },
        {
            "key": "groundedness",
            "type": "rating",
            "required": True,
            "label": _label("Grounded in the contexts", "근거 충실성"),
            "help": _label(
                "Is every claim supported by the retrieved contexts?",
                "모든 주장이 검색된 문서로 뒷받침되나요?",
            ),
            "scale": scale(
                [
                    ("Not supported", "근거 없음"),
                    ("Barely supported", "근거 부족"),
                    ("Partly supported", "일부 근거"),
                    ("Mostly supported", "대부분 근거"),
                    ("Fully supported", "완전히 근거"),
                ]
            ),
        },
        {
            "key": "helpfulness",
            "type": "rating",
            "required": True,
            "label": _label("Helpfulness", "유용성"),
            "help": _label("Does it solve the user's problem?", "사용자의 문제를 해결하나요?"),
            "scale": scale(
                [
                    ("Useless", "쓸모없음"),
                    ("Slightly helpful", "약간 도움"),
                    ("Somewhat helpful", "어느 정도 도움"),
                    ("Helpful", "도움됨"),
                    ("Very helpful", "매우 도움됨"),
                ]
            ),
        },
        {
            "key": "errors",
            "type": "multi_choice",
            "required": False,
            "label": _label("Error categories", "오류 유형"),
            "help": _label("Everything that applies.", "해당하는 것을 모두 고르세요."),
            "options": [
                {"value": value, "label": _label(en, ko)}
                for value, en, ko in [
                    ("hallucination", "Hallucination / not in the contexts", "환각 / 문서에 없음"),
                    ("factually_wrong", "Factually wrong", "사실 오류"),
                    ("incomplete", "Incomplete", "불완전"),
                    ("irrelevant", "Irrelevant", "관련 없음"),
                    ("outdated", "Outdated", "오래된 정보"),
                    ("wrong_language", "Wrong language", "잘못된 언어"),
                    ("unsafe", "Unsafe", "위험함"),
                    ("tone", "Tone", "어조"),
                ]
            ],
        },
        {
            "key": "corrected_answer",
            "type": "corrected_answer",
            "required": False,
            "label": _label("Corrected answer", "수정된 답변"),
            "help": _label(
                "Rewrite the answer as it should have been.", "올바른 답변으로 고쳐 쓰세요."
            ),
        },
        {
            "key": "note",
            "type": "text",
            "required": False,
            "label": _label("Note", "메모"),
            "help": _label("Anything the team should know.", "팀이 알아야 할 내용."),
        },
    ]


def _is_text(value: Any, *, required: bool = False) -> bool:
    """A text in the UI's languages: {"en": "...", "ko": "..."}, either may be left out
    (but not both when required)."""
    if not isinstance(value, dict) or not set(value) <= {"en", "ko"}:
        return False
    if not all(isinstance(text, str) for text in value.values()):
        return False
    return not required or any(text.strip() for text in value.values())


def _check_scale(scale: Any, path: str, fail: Any) -> None:
    if not isinstance(scale, dict):
        fail(path, _('give the scale as {"min": 1, "max": 5}'))
        return
    low, high = scale.get("min", 1), scale.get("max")
    if (
        not isinstance(low, int)
        or not isinstance(high, int)
        or isinstance(low, bool)
        or isinstance(high, bool)
        or not 1 <= low < high <= 10
    ):
        fail(path, _("min and max must be whole numbers with 1 <= min < max <= 10"))
        return
    labels = scale.get("labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(point, str) and point.isdigit() and low <= int(point) <= high and _is_text(text)
        for point, text in labels.items()
    ):
        fail(path, _('label points of the scale as {"1": {"en": "...", "ko": "..."}}'))


def questions_validate(questions: Any) -> dict[str, list[str]]:
    """Errors by field ("questions.2.options") for a rubric definition; empty when valid."""
    errors: dict[str, list[str]] = {}

    def fail(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not isinstance(questions, list) or not questions:
        return {"questions": [_("a rubric needs at least one question")]}
    seen: set[str] = set()
    for index, question in enumerate(questions):
        path = f"questions.{index}"
        if not isinstance(question, dict):
            fail(path, _("must be an object"))
            continue
        key = question.get("key")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            fail(f"{path}.key", _("use lowercase letters, digits and _ (start with a letter)"))
        elif key in seen:
            fail(f"{path}.key", _("duplicate key %(key)s") % {"key": repr(key)})
        else:
            seen.add(key)
        kind = question.get("type")
        if kind not in QUESTION_TYPES:
            fail(f"{path}.type", _("one of %(values)s") % {"values": ", ".join(QUESTION_TYPES)})
        if not _is_text(question.get("label"), required=True):
            fail(f"{path}.label", _("give a label in English or Korean"))
        if "help" in question and not _is_text(question["help"]):
            fail(f"{path}.help", _('give help text as {"en": "...", "ko": "..."}'))
        if "required" in question and not isinstance(question["required"], bool):
            fail(f"{path}.required", _("true or false"))
        if kind == "rating":
            _check_scale(question.get("scale"), f"{path}.scale", fail)
        if kind in ("single_choice", "multi_choice"):
            options = question.get("options")
            values = (
                [o.get("value") for o in options if isinstance(o, dict)]
                if isinstance(options, list)
                else []
            )
            if (
                not options
                or not isinstance(options, list)
                or len(values) != len(options)
                or not all(isinstance(v, str) and v for v in values)
                or not all("label" not in o or _is_text(o["label"]) for o in options)
            ):
                fail(f"{path}.options", _('list options as {"value": ..., "label": {"en", "ko"}}'))
            elif len(set(values)) != len(values):
                fail(f"{path}.options", _("option values must be unique"))
    types = [q.get("type") for q in questions if isinstance(q, dict)]
    if types.count("corrected_answer") > 1:
        fail("questions", _("at most one corrected answer question"))
    if "pairwise" in types and "corrected_answer" not in types:
        fail(
            "questions",
            _(
                "a pairwise question compares the answer (A) with the corrected answer (B): "
                "add a corrected answer question"
            ),
        )
    return errors


def answers_validate(
    questions: list[dict[str, Any]], answers: Any
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check answers against a rubric version; returns (clean answers, errors by field).

    Unknown keys are errors; optional questions may be left out or null; the
    corrected answer question's text is returned under its key like the others.
    """
    if not isinstance(answers, dict):
        return {}, {"answers": [_("must be an object keyed by question")]}
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    by_key = {question["key"]: question for question in questions}
    # Rubrics published before pairwise questions needed one have no correction to
    # compare with; their pairwise answers are taken as they are.
    has_correction = any(question["type"] == "corrected_answer" for question in questions)
    for key in answers:
        if key not in by_key:
            errors[f"answers.{key}"] = [_("no such question in this rubric")]
    for key, question in by_key.items():
        value = answers.get(key)
        path = f"answers.{key}"
        if value is None or value == "" or value == []:
            if question.get("required"):
                errors[path] = [_("this question is required")]
            continue
        kind = question["type"]
        problem = _check_value(question, kind, value)
        if (
            not problem
            and kind == "pairwise"
            and has_correction
            and not corrected_answer_of(questions, answers).strip()
        ):
            problem = _("write the corrected answer (B) to compare it with the answer (A)")
        if problem:
            errors[path] = [problem]
        else:
            clean[key] = sorted(set(value), key=value.index) if kind == "multi_choice" else value
    return clean, errors


def _check_value(question: dict[str, Any], kind: str, value: Any) -> str:
    if kind == "rating":
        scale = question.get("scale") or {}
        low, high = scale.get("min", 1), scale.get("max", 5)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return _("a whole number from %(low)s to %(high)s") % {"low": low, "high": high}
    elif kind == "boolean":
        if not isinstance(value, bool):
            return _("true or false")
    elif kind == "single_choice":
        allowed = [option["value"] for option in question.get("options", [])]
        if value not in allowed:
            return _("one of %(values)s") % {"values": ", ".join(allowed)}
    elif kind == "multi_choice":
        allowed = [option["value"] for option in question.get("options", [])]
        if not isinstance(value, list) or not all(item in allowed for item in value):
            return _("a list drawn from %(values)s") % {"values": ", ".join(allowed)}
    elif kind in ("text", "corrected_answer"):
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            return _("text of at most %(count)s characters") % {"count": MAX_TEXT}
        if "\x00" in value:
            return _("must not contain NUL characters")
    elif kind == "pairwise" and value not in PAIRWISE_VALUES:
        return _("one of a, b, tie")
    return ""


def corrected_answer_of(questions: list[dict[str, Any]], answers: dict[str, Any]) -> str:
    """The text of the corrected-answer question, if the rubric has one and it was given."""
    for question in questions:
        if question["type"] == "corrected_answer":
            value = answers.get(question["key"])
            return value if isinstance(value, str) else ""
    return ""


def text_of(label: dict[str, str] | str | None, language: str) -> str:
    """A label in the wanted language, falling back to the other one."""
    if not label:
        return ""
    if isinstance(label, str):
        # Rubrics saved before labels were checked to be {"en", "ko"}.
        return label
    other = "en" if language == "ko" else "ko"
    return label.get(language) or label.get(other) or ""
