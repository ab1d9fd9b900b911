import pytest

from annotations.errors import InvalidInput, NotFound
from annotations.models import Annotation, AnnotationRevision
from annotations.payloads import ConversationIn
from annotations.rubrics import default_rag_questions
from annotations.services.annotations import annotation_import, annotation_submit
from annotations.services.ingest import conversation_ingest
from annotations.services.projects import project_create
from annotations.services.rubrics import rubric_publish
from tests.conftest import conversation_payload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD = {"correctness": 5, "groundedness": 4, "helpfulness": 5}


@pytest.fixture
def lead():
    return UserFactory(username="lead")


@pytest.fixture
def project(lead):
    project, _, _ = project_create(slug="devot", name="Devot", created_by=lead)
    conversation_ingest(
        project=project, conversation=ConversationIn.model_validate(conversation_payload())
    )
    return project


@pytest.fixture
def answer(project):
    return project.messages.get(external_id="m2")


def test_new_project_has_the_rag_rubric_version_1(project):
    rubric = project.rubrics.get()
    assert (rubric.version, rubric.is_active) == (1, True)
    assert rubric.questions[0]["key"] == "correctness"


def test_submit_stores_answers_and_corrected_answer(answer, lead):
    annotation, created = annotation_submit(
        message=answer,
        reviewer=lead,
        answers={**GOOD, "corrected_answer": "브로커 URL과 큐 이름을 확인하세요."},
        time_spent_ms=4200,
    )

    assert created is True
    assert annotation.corrected_answer == "브로커 URL과 큐 이름을 확인하세요."
    assert annotation.answers["correctness"] == 5
    assert (annotation.annotator_key, annotation.annotator_name, annotation.source) == (
        f"user:{lead.pk}",
        "lead",
        "human",
    )
    assert annotation.time_spent_ms == 4200


def test_editing_keeps_history(answer, lead):
    annotation_submit(message=answer, reviewer=lead, answers=GOOD)
    _, created = annotation_submit(
        message=answer, reviewer=lead, answers={**GOOD, "correctness": 2}
    )

    assert created is False
    assert Annotation.objects.count() == 1
    revision = AnnotationRevision.objects.get()
    assert revision.editor == lead
    assert revision.before["answers"]["correctness"] == 5
    assert revision.after["answers"]["correctness"] == 2


def test_resubmitting_the_same_answers_writes_no_revision(answer, lead):
    annotation_submit(message=answer, reviewer=lead, answers=GOOD)
    annotation_submit(message=answer, reviewer=lead, answers=GOOD)

    assert AnnotationRevision.objects.count() == 0


def test_answers_are_validated_against_the_rubric(answer, lead):
    with pytest.raises(InvalidInput) as error:
        annotation_submit(message=answer, reviewer=lead, answers={"correctness": 9})

    assert set(error.value.fields) == {
        "answers.correctness",
        "answers.groundedness",
        "answers.helpfulness",
    }
    assert Annotation.objects.count() == 0


def test_old_annotations_keep_their_rubric_version(project, answer, lead):
    first, _ = annotation_submit(message=answer, reviewer=lead, answers=GOOD)
    questions = default_rag_questions()[:1]
    rubric_publish(project=project, questions=questions, name="Short")

    first.refresh_from_db()
    assert first.rubric.version == 1
    other = UserFactory(username="other")
    second, _ = annotation_submit(message=answer, reviewer=other, answers={"correctness": 3})
    assert second.rubric.version == 2


def test_import_is_idempotent_per_annotator(project):
    kwargs = dict(
        project=project,
        conversation_id="conv-123",
        message_id="m2",
        annotator="gpt-4.1-judge",
        source="model",
        answers=GOOD,
        corrected_answer="Better answer",
    )

    first, created = annotation_import(**kwargs)
    again, created_again = annotation_import(**kwargs)

    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert Annotation.objects.get().corrected_answer == "Better answer"
    assert AnnotationRevision.objects.count() == 0


def test_import_with_changed_labels_replaces_and_keeps_history(project):
    annotation_import(
        project=project,
        conversation_id="conv-123",
        message_id="m2",
        annotator="labeler-1",
        source="human",
        answers=GOOD,
    )
    annotation_import(
        project=project,
        conversation_id="conv-123",
        message_id="m2",
        annotator="labeler-1",
        source="human",
        answers={**GOOD, "helpfulness": 1},
    )

    assert Annotation.objects.get().answers["helpfulness"] == 1
    assert AnnotationRevision.objects.get().editor_name == "labeler-1"


def test_import_unknown_message_is_not_found(project):
    with pytest.raises(NotFound):
        annotation_import(
            project=project,
            conversation_id="conv-123",
            message_id="m9",
            annotator="x",
            source="human",
            answers=GOOD,
        )
