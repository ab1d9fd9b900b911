import pytest

from annotations.models import Annotation, Rubric
from annotations.rubrics import default_rag_questions
from annotations.services.rubrics import rubric_create_default
from tests.conftest import conversation_payload

pytestmark = pytest.mark.django_db

GOOD = {"correctness": 5, "groundedness": 4, "helpfulness": 5}


@pytest.fixture
def logged(api, project):
    rubric_create_default(project=project)
    assert api.post("/api/v1/conversations/", conversation_payload()).status_code == 201
    feedback = {"conversation": "conv-123", "message": "m2", "user": "u", "rating": "down"}
    assert api.post("/api/v1/feedback/", feedback).status_code == 201
    return api


def label(**overrides):
    body = {
        "conversation": "conv-123",
        "message": "m2",
        "annotator": "judge-v1",
        "source": "model",
        "answers": GOOD,
        "corrected_answer": "고친 답변",
    }
    body.update(overrides)
    return body


def test_import_labels_then_replay_is_200(logged):
    first = logged.post("/api/v1/annotations/", label())
    again = logged.post("/api/v1/annotations/", label())

    assert first.status_code == 201
    assert again.status_code == 200
    body = first.json()
    assert (
        body["annotator"],
        body["source"],
        body["rubric_version"],
        body["corrected_answer"],
    ) == ("judge-v1", "model", 1, "고친 답변")
    assert Annotation.objects.count() == 1


def test_invalid_labels_are_400_naming_the_question(logged):
    response = logged.post("/api/v1/annotations/", label(answers={"correctness": 7}))

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["answers.correctness"] == [
        "a whole number from 1 to 5"
    ]
    assert Annotation.objects.count() == 0


def test_labels_for_unknown_message_are_404(logged):
    assert logged.post("/api/v1/annotations/", label(message="m7")).status_code == 404


def test_labels_appear_in_the_conversation(logged):
    logged.post("/api/v1/annotations/", label())

    answer = logged.get("/api/v1/conversations/conv-123/").json()["messages"][1]

    assert answer["annotations"][0]["annotator"] == "judge-v1"
    assert answer["annotations"][0]["answers"] == {**GOOD, "corrected_answer": "고친 답변"}


def test_rubric_read_and_publish(logged):
    assert logged.get("/api/v1/rubric/").json()["version"] == 1

    response = logged.post(
        "/api/v1/rubric/", {"name": "Short", "questions": default_rag_questions()[:2]}
    )

    assert response.status_code == 201
    assert response.json()["version"] == 2
    assert Rubric.objects.get(is_active=True).version == 2


def test_invalid_rubric_is_400_and_keeps_the_active_version(logged):
    response = logged.post("/api/v1/rubric/", {"questions": [{"key": "Bad", "type": "slider"}]})

    assert response.status_code == 400
    assert "questions.0.key" in response.json()["error"]["fields"]
    assert Rubric.objects.get(is_active=True).version == 1


@pytest.mark.parametrize(
    "question",
    [
        {"key": "q", "type": "rating", "label": {"en": "Q"}, "scale": "x"},
        {"key": "q", "type": "multi_choice", "label": {"en": "Q"}, "options": 5},
        {
            "key": "q",
            "type": "rating",
            "label": {"en": "Q"},
            "help": "Rate it",
            "scale": {"min": 1, "max": 5, "labels": {"1": "bad"}},
        },
    ],
    ids=["scale-text", "options-number", "labels-as-text"],
)
def test_malformed_rubric_parts_are_a_400_not_a_500(logged, question):
    response = logged.post("/api/v1/rubric/", {"questions": [question]})

    assert response.status_code == 400
    assert response.json()["error"]["fields"]
    assert Rubric.objects.get(is_active=True).version == 1


def test_queue_create_list_and_refresh(logged):
    created = logged.post(
        "/api/v1/queues/",
        {"name": "Thumbs down", "filters": {"rating": "down"}, "annotations_per_item": 2},
    )

    assert created.status_code == 201
    body = created.json()
    assert (body["item_count"], body["annotations_per_item"], body["filters"]) == (
        1,
        2,
        {"rating": "down"},
    )
    listed = logged.get("/api/v1/queues/").json()
    assert [q["name"] for q in listed] == ["Thumbs down"]
    assert logged.post(f"/api/v1/queues/{body['id']}/refresh/", {}).json() == {"added": 0}


def test_queue_with_bad_filter_is_400(logged):
    response = logged.post("/api/v1/queues/", {"name": "Q", "filters": {"rating": "sideways"}})

    assert response.status_code == 400
    assert "filters.rating" in response.json()["error"]["fields"]


def test_other_projects_queue_is_404(logged, make_api):
    from tests.factories import ProjectFactory

    queue_id = logged.post("/api/v1/queues/", {"name": "Q"}).json()["id"]
    stranger = make_api(project=ProjectFactory(slug="stranger"))

    assert stranger.post(f"/api/v1/queues/{queue_id}/refresh/", {}).status_code == 404
