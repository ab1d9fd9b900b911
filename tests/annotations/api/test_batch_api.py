import pytest

from annotations.models import Conversation, Message
from tests.conftest import conversation_payload

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/batch/"


def test_batch_gives_a_result_per_item_and_writes_valid_items(api):
    api.post("/api/v1/conversations/", conversation_payload("known"))
    bad = conversation_payload("bad")
    bad["messages"][0]["role"] = "robot"

    response = api.post(
        URL,
        {"conversations": [conversation_payload("new"), bad, conversation_payload("known")]},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["existed"], body["failed"], body["messages_created"]) == (
        1,
        1,
        1,
        2,
    )
    assert [(r["index"], r["id"], r["status"]) for r in body["results"]] == [
        (0, "new", "created"),
        (1, "bad", "error"),
        (2, "known", "existed"),
    ]
    assert body["results"][1]["error"]["fields"] == {
        "messages.0.role": ["Input should be 'system', 'user', 'assistant' or 'tool'"]
    }
    assert set(Conversation.objects.values_list("external_id", flat=True)) == {"new", "known"}
    assert not Message.objects.filter(conversation__external_id="bad").exists()


def test_batch_of_1000_is_accepted(api):
    items = [
        {"id": f"c-{i}", "messages": [{"id": "m1", "role": "user", "content": f"질문 {i}"}]}
        for i in range(1000)
    ]

    response = api.post(URL, {"conversations": items})

    assert response.status_code == 200
    assert response.json()["created"] == 1000
    assert Message.objects.count() == 1000


def test_batch_over_1000_is_400_and_writes_nothing(api):
    items = [{"id": f"c-{i}", "messages": []} for i in range(1001)]

    response = api.post(URL, {"conversations": items})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"conversations": ["at most 1000 items"]}
    assert Conversation.objects.count() == 0


def test_duplicate_ids_in_one_batch_reject_the_batch(api):
    items = [conversation_payload("a"), conversation_payload("b"), conversation_payload("a")]

    response = api.post(URL, {"conversations": items})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "conversations.2.id": ["duplicate of conversations.0.id"]
    }
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"conversations": []}, {"conversations": "x"}, {"conversations": [1]}, [1]],
    ids=["missing", "empty", "string", "non-object-item", "list-body"],
)
def test_malformed_envelope_is_400(api, body):
    response = api.post(URL, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert Conversation.objects.count() == 0


def test_an_item_with_an_unstorable_value_fails_alone(api):
    good = conversation_payload("good")
    bad_time = conversation_payload("bad-time", created_at="0001-01-01T00:00:00+05:00")
    bad_number = conversation_payload("bad-number", metadata={"x": float("nan")})

    response = api.post(
        "/api/v1/conversations/batch/", {"conversations": [good, bad_time, bad_number]}
    )

    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created", "error", "error"]
    assert "created_at" in body["results"][1]["error"]["fields"]
    assert "metadata.x" in body["results"][2]["error"]["fields"]
    assert list(Conversation.objects.values_list("external_id", flat=True)) == ["good"]


def test_an_oversized_batch_is_refused_before_its_items_are_validated(api):
    # Items that would each fail validation: the size alone decides.
    items = [{"bad": i} for i in range(5000)]

    response = api.post(URL, {"conversations": items})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"conversations": ["at most 1000 items"]}
    assert "5000" in response.json()["error"]["message"]
