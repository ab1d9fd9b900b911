"""A small labeled project that every export kind has rows for."""

import os
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model

from annotations.models import Message, Project, Queue, Rubric
from annotations.rubrics import default_rag_questions
from annotations.services.annotations import annotation_import, annotation_submit
from annotations.services.queues import queue_create
from annotations.services.rubrics import rubric_create_default, rubric_publish
from tests.factories import (
    ConversationFactory,
    FeedbackFactory,
    MessageFactory,
    ProjectFactory,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

SYSTEM = "You are Devot, a helpful assistant for Python developers."
GOOD = {"correctness": 5, "groundedness": 4, "helpfulness": 5}
FINE = {"correctness": 4, "groundedness": 4, "helpfulness": 4}
BAD = {"correctness": 2, "groundedness": 1, "helpfulness": 2, "errors": ["hallucination"]}
CORRECTED = "`autoretry_for=(ConnectionError,)`와 `retry_backoff=True`를 쓰세요."
PAIRWISE_CORRECTION = "A shorter answer that reviewers liked less."


@dataclass
class LabeledProject:
    project: Project
    rubric_v1: Rubric
    rubric_v2: Rubric
    queue: Queue
    answers: dict[str, Message]


def _conversation(project: Project, external_id: str, turns: list[tuple[str, str]], **answer):
    conversation = ConversationFactory(
        project=project, external_id=external_id, tags=answer.pop("tags", ["beta"])
    )
    messages = []
    for position, (role, content) in enumerate(turns):
        fields = answer if role == "assistant" else {"contexts": [], "model": ""}
        messages.append(
            MessageFactory(
                conversation=conversation,
                project=project,
                external_id=f"m{position + 1}",
                position=position,
                role=role,
                content=content,
                **fields,
            )
        )
    return messages


def build_labeled_project(slug: str = "export-demo") -> LabeledProject:
    """Five answers, each a different case:

    c1 rated good by two reviewers and voted up: every kind but preference.
    c2 rated bad with a correction, voted down: the correction in sft, a preference pair.
    c3 only voted up: raw, eval and sft with the original answer.
    c4 only a model label and a down vote: raw and eval; not gold; no sft.
    c5 a correction that the pairwise label (rubric v2) ranks below the original.
    c6 has neither votes nor labels: in no export.
    """
    project = ProjectFactory(slug=slug, name="Export demo")
    # Created without a password: hashing one costs more than the rest of the fixture.
    alice = get_user_model().objects.create(username="alice")
    bob = get_user_model().objects.create(username="bob")
    rubric_v1 = rubric_create_default(project=project)
    context = {
        "id": "doc-7",
        "title": "Celery: First steps",
        "url": "https://docs.celeryq.dev/",
        "text": "Celery requires a message broker.",
        "score": 0.83,
    }
    c1 = _conversation(
        project,
        "c1",
        [
            ("system", SYSTEM),
            ("user", "Celery 워커가 작업을 안 가져가요."),
            ("assistant", "브로커 URL을 확인하세요: `CELERY_BROKER_URL`."),
        ],
        contexts=[context],
        model="gpt-4o-mini",
        prompt_name="devot-rag",
        prompt_version="3",
    )
    c2 = _conversation(
        project,
        "c2",
        [
            ("user", "How do I retry a task? Call me at 010-1234-5678."),
            ("assistant", "Set retry=True in settings."),
        ],
        contexts=[{"id": "doc-9", "text": "Tasks can retry with autoretry_for.", "score": 0.5}],
        model="gpt-4.1",
        prompt_name="devot-rag",
        prompt_version="4",
        tags=["prod"],
    )
    c3 = _conversation(
        project, "c3", [("user", "hi"), ("assistant", "Hello! How can I help?")], contexts=[]
    )
    c4 = _conversation(project, "c4", [("user", "What is 2+2?"), ("assistant", "5")], contexts=[])
    queue = queue_create(project=project, name="All", filters={})

    annotation_submit(message=c1[2], reviewer=alice, answers=GOOD, rubric=rubric_v1)
    annotation_submit(message=c1[2], reviewer=bob, answers=FINE, rubric=rubric_v1)
    FeedbackFactory(message=c1[2], end_user="u-1", rating="up", comment="고마워요!")
    annotation_submit(
        message=c2[1],
        reviewer=alice,
        answers={**BAD, "corrected_answer": CORRECTED, "note": "mail kim@example.com"},
        rubric=rubric_v1,
    )
    FeedbackFactory(
        message=c2[1], end_user="u-2", rating="down", reasons=["incorrect"], comment="틀렸어요"
    )
    FeedbackFactory(message=c3[1], end_user="u-3", rating="up")
    annotation_import(
        project=project,
        conversation_id="c4",
        message_id="m2",
        annotator="judge",
        source="model",
        answers={"correctness": 1, "groundedness": 1, "helpfulness": 1},
    )
    FeedbackFactory(message=c4[1], end_user="u-4", rating="down")

    rubric_v2 = rubric_publish(
        project=project,
        questions=[
            *default_rag_questions(),
            {"key": "preference", "type": "pairwise", "label": {"en": "Which is better?"}},
        ],
    )
    c5 = _conversation(
        project, "c5", [("user", "Explain acks_late."), ("assistant", "A long, right answer.")]
    )
    annotation_submit(
        message=c5[1],
        reviewer=bob,
        answers={**FINE, "corrected_answer": PAIRWISE_CORRECTION, "preference": "a"},
        rubric=rubric_v2,
    )
    c6 = _conversation(project, "c6", [("user", "anyone?"), ("assistant", "Unlabeled.")])
    return LabeledProject(
        project=project,
        rubric_v1=rubric_v1,
        rubric_v2=rubric_v2,
        queue=queue,
        answers={"c1": c1[2], "c2": c2[1], "c3": c3[1], "c4": c4[1], "c5": c5[1], "c6": c6[1]},
    )


@pytest.fixture
def labeled(db: None) -> LabeledProject:
    return build_labeled_project()
