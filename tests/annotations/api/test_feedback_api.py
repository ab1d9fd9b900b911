import pytest
from rest_framework import serializers

from annotations.models import Feedback
from tests.conftest import conversation_payload
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/feedback/"


@pytest.fixture
def logged(api):
    assert api.post("/api/v1/conversations/", conversation_payload()).status_code == 201
    return api


def vote(**overrides: object) -> dict[str, object]:
    body = {"conversation": "conv-123", "message": "m2", "user": "u-42", "rating": "up"}
    body.update(overrides)
    return body


def test_vote_is_created_with_201(logged):
    response = logged.post(URL, vote(comment="감사합니다"))

    assert response.status_code == 201
    assert response.json()["rating"] == "up"
    feedback = Feedback.objects.get()
    assert (feedback.end_user, feedback.rating, feedback.comment, feedback.source) == (
        "u-42",
        "up",
        "감사합니다",
        "api",
    )


def test_second_vote_replaces_the_first(logged):
    logged.post(URL, vote())
    response = logged.post(
        URL, vote(rating="down", reasons=["incorrect", "outdated"], comment="no")
    )

    assert response.status_code == 200
    assert Feedback.objects.count() == 1
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.reasons, feedback.comment) == (
        "down",
        ["incorrect", "outdated"],
        "no",
    )
    assert feedback.updated_at > feedback.created_at


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Seoul"])
def test_answer_carries_the_stored_times_as_drf_writes_them(logged, settings, time_zone):
    settings.TIME_ZONE = time_zone
    first = logged.post(URL, vote()).json()
    second = logged.post(URL, vote(rating="down")).json()

    feedback = Feedback.objects.get()
    written = serializers.DateTimeField().to_representation
    assert first["created_at"] == first["updated_at"] == written(feedback.created_at)
    # The replaced vote keeps the time of the first one.
    assert second["created_at"] == written(feedback.created_at)
    assert second["updated_at"] == written(feedback.updated_at)
    assert second["updated_at"] > second["created_at"]


def test_votes_by_two_users_are_two_rows(logged):
    logged.post(URL, vote(user="a"))
    logged.post(URL, vote(user="b", rating="down"))

    assert sorted(Feedback.objects.values_list("end_user", "rating")) == [
        ("a", "up"),
        ("b", "down"),
    ]


def test_unknown_message_is_404(logged):
    response = logged.post(URL, vote(message="m99"))

    assert response.status_code == 404
    assert response.json()["error"]["fields"] == {"message": ["unknown message"]}
    assert Feedback.objects.count() == 0


def test_unknown_conversation_is_404(logged):
    response = logged.post(URL, vote(conversation="nope"))

    assert response.status_code == 404
    assert response.json()["error"]["fields"] == {"conversation": ["unknown conversation"]}


def test_rating_a_user_message_is_400(logged):
    response = logged.post(URL, vote(message="m1"))

    assert response.status_code == 400
    assert "message" in response.json()["error"]["fields"]


def test_other_projects_key_cannot_rate(logged, make_api):
    stranger = make_api(project=ProjectFactory(slug="stranger"))

    response = stranger.post(URL, vote())

    assert response.status_code == 404
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": 1}, "rating"),
        ({"user": ""}, "user"),
        ({"reasons": "incorrect"}, "reasons"),
        ({"reasons": ["x" * 101]}, "reasons.0"),
        ({"comment": "x" * 10_001}, "comment"),
        ({"comment": "a\x00b"}, "comment"),
        ({"extra": True}, "extra"),
        ({"rating": "down", "reasons": ["incorrect", "made-up"]}, "reasons"),
        ({"rating": "up", "reasons": ["incorrect"]}, "reasons"),
    ],
)
def test_invalid_vote_is_400_and_writes_nothing(logged, overrides, field):
    response = logged.post(URL, vote(**overrides))

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Feedback.objects.count() == 0


def test_html_comment_is_stored_as_plain_text(logged):
    comment = "<img src=x onerror=alert(1)>"

    logged.post(URL, vote(rating="down", comment=comment))

    assert Feedback.objects.get().comment == comment
