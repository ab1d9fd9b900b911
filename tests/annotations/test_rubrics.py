import copy

import pytest

from annotations.rubrics import (
    answers_validate,
    corrected_answer_of,
    default_rag_questions,
    questions_validate,
    text_of,
)

QUESTIONS = default_rag_questions()
VALID = {"correctness": 4, "groundedness": 5, "helpfulness": 3}


def test_default_rubric_is_valid_and_has_the_rag_questions():
    assert questions_validate(QUESTIONS) == {}
    assert [q["key"] for q in QUESTIONS] == [
        "correctness",
        "groundedness",
        "helpfulness",
        "errors",
        "corrected_answer",
        "note",
    ]
    assert [o["value"] for o in QUESTIONS[3]["options"]] == [
        "hallucination",
        "factually_wrong",
        "incomplete",
        "irrelevant",
        "outdated",
        "wrong_language",
        "unsafe",
        "tone",
    ]


def test_valid_answers_come_back_clean():
    answers = {**VALID, "errors": ["outdated", "incomplete", "outdated"], "note": "버전 확인 필요"}

    clean, errors = answers_validate(QUESTIONS, answers)

    assert errors == {}
    assert clean == {**VALID, "errors": ["outdated", "incomplete"], "note": "버전 확인 필요"}


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({**VALID, "correctness": 6}, "answers.correctness", "a whole number from 1 to 5"),
        ({**VALID, "correctness": 0}, "answers.correctness", "a whole number from 1 to 5"),
        ({**VALID, "correctness": "4"}, "answers.correctness", "a whole number from 1 to 5"),
        ({**VALID, "correctness": True}, "answers.correctness", "a whole number from 1 to 5"),
        ({"groundedness": 5, "helpfulness": 3}, "answers.correctness", "this question is required"),
        ({**VALID, "errors": ["typo"]}, "answers.errors", None),
        ({**VALID, "errors": "outdated"}, "answers.errors", None),
        ({**VALID, "mood": 3}, "answers.mood", "no such question in this rubric"),
        ({**VALID, "note": 5}, "answers.note", None),
        ({**VALID, "note": "a\x00b"}, "answers.note", "must not contain NUL characters"),
    ],
)
def test_invalid_answers_name_the_question(answers, field, message):
    _, errors = answers_validate(QUESTIONS, answers)

    assert field in errors
    if message:
        assert errors[field] == [message]


def test_answers_must_be_an_object():
    assert answers_validate(QUESTIONS, [1, 2]) == (
        {},
        {"answers": ["must be an object keyed by question"]},
    )


def test_boolean_single_choice_and_pairwise_questions():
    questions = [
        {"key": "safe", "type": "boolean", "required": True, "label": {"en": "Safe"}},
        {
            "key": "tone",
            "type": "single_choice",
            "label": {"ko": "어조"},
            "options": [
                {"value": "formal", "label": {"en": "Formal"}},
                {"value": "casual", "label": {"en": "Casual"}},
            ],
        },
        {"key": "better", "type": "pairwise", "label": {"en": "Which is better"}},
        {"key": "fix", "type": "corrected_answer", "label": {"en": "Corrected answer"}},
    ]
    assert questions_validate(questions) == {}

    valid = {"safe": False, "tone": "casual", "better": "tie", "fix": "A better answer."}
    assert answers_validate(questions, valid) == (valid, {})
    _, errors = answers_validate(questions, {"safe": "no", "tone": "rude", "better": "c"})
    assert set(errors) == {"answers.safe", "answers.tone", "answers.better"}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda q: q[0].update(key="Bad Key"), "questions.0.key"),
        (lambda q: q[1].update(key="correctness"), "questions.1.key"),
        (lambda q: q[0].update(type="slider"), "questions.0.type"),
        (lambda q: q[0].update(label={}), "questions.0.label"),
        (lambda q: q[0].update(scale={"min": 1, "max": 11}), "questions.0.scale"),
        (lambda q: q[3].update(options=[]), "questions.3.options"),
        (lambda q: q[3]["options"].append(dict(q[3]["options"][0])), "questions.3.options"),
        (lambda q: q.append(dict(q[4], key="second_fix")), "questions"),
        (lambda q: q[0].update(help="Rate it"), "questions.0.help"),
        (lambda q: q[0].update(help={"en": 5}), "questions.0.help"),
        (lambda q: q[0].update(required="false"), "questions.0.required"),
        (lambda q: q[0].update(scale="x"), "questions.0.scale"),
        (lambda q: q[0].update(scale=[1, 5]), "questions.0.scale"),
        (lambda q: q[0].update(scale={"min": True, "max": 5}), "questions.0.scale"),
        (lambda q: q[0]["scale"].update(labels={"1": "bad"}), "questions.0.scale"),
        (lambda q: q[0]["scale"].update(labels={"9": {"en": "?"}}), "questions.0.scale"),
        (lambda q: q[0]["scale"].update(labels=["bad"]), "questions.0.scale"),
        (lambda q: q[0].update(label={"en": "Q", "fr": "Q"}), "questions.0.label"),
        (lambda q: q[3].update(options=5), "questions.3.options"),
        (lambda q: q[3].update(options="a,b"), "questions.3.options"),
        (lambda q: q[3]["options"][0].update(label="Hallucination"), "questions.3.options"),
    ],
)
def test_invalid_rubric_definitions_are_refused(mutate, field):
    questions = copy.deepcopy(QUESTIONS)
    mutate(questions)

    assert field in questions_validate(questions)


def test_empty_rubric_is_refused():
    assert questions_validate([]) == {"questions": ["a rubric needs at least one question"]}


def test_corrected_answer_and_labels():
    assert corrected_answer_of(QUESTIONS, {"corrected_answer": "고친 답변"}) == "고친 답변"
    assert corrected_answer_of(QUESTIONS, {}) == ""
    assert text_of({"en": "Correctness", "ko": "정확성"}, "ko") == "정확성"
    assert text_of({"en": "Correctness"}, "ko") == "Correctness"
    assert text_of(None, "en") == ""


def test_a_label_saved_as_plain_text_still_shows():
    assert text_of("Rate it", "ko") == "Rate it"
    assert text_of({"en": "Correct", "ko": "정확"}, "ko") == "정확"
    assert text_of({"en": "Correct"}, "ko") == "Correct"


def test_a_pairwise_label_needs_the_corrected_answer_it_compares():
    questions = [
        {"key": "better", "type": "pairwise", "label": {"en": "Which is better"}},
        {"key": "fix", "type": "corrected_answer", "label": {"en": "Corrected answer"}},
    ]

    _, errors = answers_validate(questions, {"better": "b"})
    _, blank = answers_validate(questions, {"better": "a", "fix": "   "})
    clean, none = answers_validate(questions, {"better": "a", "fix": "Better."})

    assert list(errors) == ["answers.better"] and list(blank) == ["answers.better"]
    assert none == {} and clean == {"better": "a", "fix": "Better."}
    assert "questions" in questions_validate(questions[:1])


def test_a_pairwise_label_of_a_rubric_without_corrections_is_taken_as_it_is():
    # Rubrics published before pairwise questions needed a corrected answer question.
    questions = [{"key": "better", "type": "pairwise", "label": {"en": "Which is better"}}]

    assert answers_validate(questions, {"better": "a"}) == ({"better": "a"}, {})
