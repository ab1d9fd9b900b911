import json

import pytest

from annotations.models import Conversation, Message, ProjectKey
from tests.conftest import ApiClient, conversation_payload
from tests.factories import ConversationFactory, MessageFactory, ProjectFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/"


def test_create_returns_201_then_200_on_replay(api):
    first = api.post(URL, conversation_payload())
    second = api.post(URL, conversation_payload())

    assert first.status_code == 201
    assert first.json() == {"id": "conv-123", "status": "created", "messages_created": 2}
    assert second.status_code == 200
    assert second.json() == {"id": "conv-123", "status": "existed", "messages_created": 0}
    assert Message.objects.count() == 2


def test_read_returns_messages_and_feedback(api):
    api.post(URL, conversation_payload())
    vote = {
        "conversation": "conv-123",
        "message": "m2",
        "user": "u-42",
        "rating": "down",
        "reasons": ["incorrect"],
        "comment": "틀렸어요",
    }
    assert api.post("/api/v1/feedback/", vote).status_code == 201

    response = api.get(f"{URL}conv-123/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "conv-123"
    assert body["tags"] == ["beta"]
    assert [m["id"] for m in body["messages"]] == ["m1", "m2"]
    answer = body["messages"][1]
    assert answer["prompt"] == {"name": "devot-rag", "version": "3"}
    assert answer["contexts"][0]["title"] == "Celery: First steps"
    assert answer["feedback"][0]["rating"] == "down"
    assert answer["feedback"][0]["comment"] == "틀렸어요"
    assert body["messages"][0]["prompt"] is None


def test_read_ids_with_slashes_and_unicode(api):
    api.post(URL, conversation_payload("thread/2026/대화-1"))

    response = api.get(f"{URL}thread/2026/%EB%8C%80%ED%99%94-1/")

    assert response.status_code == 200
    assert response.json()["id"] == "thread/2026/대화-1"


def test_korean_emoji_and_100kb_round_trip_byte_for_byte(api):
    content = ("한국어 답변입니다 🚀👩‍💻 — ünïcödé \u200d\U0001f9d1\u200d\U0001f4bb " * 4000)[
        :100_000
    ]
    payload = conversation_payload()
    payload["messages"][1]["content"] = content

    assert api.post(URL, payload).status_code == 201
    body = api.get(f"{URL}conv-123/").json()

    assert body["messages"][1]["content"].encode() == content.encode()
    assert len(body["messages"][1]["content"]) == 100_000


def test_other_projects_key_gets_404(api, make_api):
    api.post(URL, conversation_payload())
    stranger = make_api(project=ProjectFactory(slug="other"))

    response = stranger.get(f"{URL}conv-123/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_conversation_is_404_in_error_shape(api):
    response = api.get(f"{URL}nope/")

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "No conversation 'nope' in this project.",
            "fields": {},
        }
    }


def test_read_query_count_is_constant(api, project, django_assert_num_queries):
    conversation = ConversationFactory(project=project, external_id="long")
    for position in range(30):
        MessageFactory(conversation=conversation, position=position)

    # The first request also records the key's use (once an interval).
    api.get(f"{URL}long/")
    # key lookup, conversation, messages, feedback, annotations
    with django_assert_num_queries(5):
        response = api.get(f"{URL}long/")
    assert len(response.json()["messages"]) == 30


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("id"), "id"),
        (lambda p: p.update(id=""), "id"),
        (lambda p: p.update(id=123), "id"),
        (lambda p: p["messages"][0].pop("id"), "messages.0.id"),
        (lambda p: p["messages"][0].update(role="bot"), "messages.0.role"),
        (lambda p: p["messages"][0].update(content=["not", "text"]), "messages.0.content"),
        (lambda p: p["messages"][1].update(latency_ms="fast"), "messages.1.latency_ms"),
        (lambda p: p["messages"][1].update(latency_ms=-1), "messages.1.latency_ms"),
        (lambda p: p["messages"][1].update(contexts="doc-7"), "messages.1.contexts"),
        (lambda p: p["messages"][1].update(metadata=[1, 2]), "messages.1.metadata"),
        (lambda p: p.update(tags="beta"), "tags"),
        (lambda p: p.update(mesages=[]), "mesages"),
        (lambda p: p.update(created_at="2026-01-01T10:00:00"), "created_at"),
        (lambda p: p["messages"][1].update(id="m1"), "messages"),
        (lambda p: p["messages"][0].update(content="nul \x00 byte"), "messages.0.content"),
        (lambda p: p.update(metadata={"deep": {"k\x00": 1}}), "metadata"),
        (lambda p: p.update(id="x" * 256), "id"),
        (lambda p: p.update(id="conv\n2"), "id"),
        (lambda p: p["messages"][0].update(id="m\t1"), "messages.0.id"),
        (lambda p: p.update(created_at="0001-01-01T00:00:00+05:00"), "created_at"),
        (
            lambda p: p["messages"][0].update(created_at="9999-12-31T23:59:59-05:00"),
            "messages.0.created_at",
        ),
        (lambda p: p.update(metadata={"score": float("nan")}), "metadata"),
        (lambda p: p["messages"][1].update(usage={"cost": float("inf")}), "messages.1.usage"),
        (
            lambda p: p["messages"][1]["contexts"][0].update(score=float("-inf")),
            "messages.1.contexts",
        ),
    ],
    ids=[
        "missing-id",
        "empty-id",
        "numeric-id",
        "missing-message-id",
        "unknown-role",
        "content-not-string",
        "latency-string",
        "latency-negative",
        "contexts-string",
        "metadata-list",
        "tags-string",
        "unknown-field",
        "naive-datetime",
        "duplicate-message-ids",
        "nul-in-content",
        "nul-in-metadata-key",
        "id-too-long",
        "newline-in-id",
        "tab-in-message-id",
        "year-1",
        "year-9999",
        "nan-in-metadata",
        "infinity-in-usage",
        "infinite-context-score",
    ],
)
def test_invalid_conversation_is_400_naming_the_field_and_writes_nothing(api, mutate, field):
    payload = conversation_payload()
    mutate(payload)

    response = api.post(URL, payload)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert any(name == field or name.startswith(field + ".") for name in error["fields"]), error
    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": "c", "messages": [',
        b"",
        b"not json",
        b'{"id": "c\xff\xfe"}',
        b'{"id": "c", "user": "\\ud800"}',
        b"[1, 2]",
    ],
    ids=["truncated", "empty", "garbage", "invalid-utf8", "lone-surrogate", "not-an-object"],
)
def test_malformed_body_is_400_and_writes_nothing(api, raw):
    response = api.post(URL, raw=raw)

    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"malformed_json", "invalid"}
    assert Conversation.objects.count() == 0


def test_wrong_content_type_is_415(api):
    response = api.post(URL, raw=b"id=c", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", "application/json"])
def test_answers_json_whatever_the_accept_header(api, accept):
    response = api.post(URL, conversation_payload(), headers={"Accept": accept})

    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["id"] == "conv-123"


def test_answers_in_english_whatever_the_accept_language(api):
    def error(language: str) -> dict:
        response = api.post(
            URL, raw=b"id=c", content_type="text/plain", headers={"Accept-Language": language}
        )
        assert response.status_code == 415
        assert "Content-Language" not in response.headers
        return response.json()["error"]

    assert error("ko") == error("en")
    assert error("ko")["message"] == 'Unsupported media type "text/plain" in request.'


def test_body_over_limit_is_413_and_writes_nothing(api, settings):
    settings.API_MAX_BODY_BYTES = 2_000
    payload = conversation_payload()
    payload["messages"][0]["content"] = "가" * 2_000

    response = api.post(URL, payload)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert Conversation.objects.count() == 0


def test_hostile_strings_are_stored_verbatim(api):
    hostile = "'; DROP TABLE annotations_message; -- <script>alert(1)</script> %s %(x)s \\"
    payload = conversation_payload(hostile[:255])
    payload["messages"][1]["content"] = hostile

    assert api.post(URL, payload).status_code == 201
    assert Message.objects.get(external_id="m2").content == hostile
    assert Conversation.objects.get().external_id == hostile[:255]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "not_authenticated"),
        ({"Authorization": "Bearer sk_unknown"}, "authentication_failed"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "authentication_failed"),
        ({"Authorization": "Bearer"}, "authentication_failed"),
    ],
    ids=["missing", "unknown", "wrong-scheme", "empty"],
)
def test_missing_or_bad_key_is_401(db, headers, code):
    client = ApiClient(None)

    response = client.post(URL, conversation_payload(), headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert Conversation.objects.count() == 0


def test_revoked_key_is_401(api, project):
    from annotations.services.projects import project_key_revoke

    project_key_revoke(key=ProjectKey.objects.get(project=project))

    response = api.post(URL, conversation_payload())

    assert response.status_code == 401
    assert Conversation.objects.count() == 0


def test_public_key_cannot_ingest_or_read(project, make_api):
    public = make_api(project=project, kind=ProjectKey.Kind.PUBLIC)

    created = public.post(URL, conversation_payload())
    read = public.get(f"{URL}conv-123/")

    assert created.status_code == 403
    assert read.status_code == 403
    assert created.json()["error"]["code"] == "permission_denied"
    assert Conversation.objects.count() == 0


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/does-not-exist/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/does-not-exist/", "/api/v1/queues/false/refresh/"])
def test_a_post_to_an_unknown_api_path_is_json_404_not_a_csrf_page(db, path):
    from django.test import Client

    # As an API client: no session, no CSRF token, CSRF checks on as in production.
    response = Client(enforce_csrf_checks=True).post(
        path, data="{}", content_type="application/json"
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_schema_and_docs_are_served(db):
    from django.test import Client

    schema = Client().get("/api/v1/schema/", headers={"Accept": "application/json"})
    docs = Client().get("/api/v1/docs/")

    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert {"/api/v1/conversations/", "/api/v1/conversations/batch/", "/api/v1/feedback/"} <= set(
        paths
    )
    assert docs.status_code == 200


def test_integers_beyond_64_bits_are_stored_as_given(api):
    payload = conversation_payload()
    payload["messages"][1]["usage"] = {"tokens": 2**70, "cost": -(2**80)}

    assert api.post(URL, payload).status_code == 201

    stored = Message.objects.get(external_id="m2")
    assert stored.usage == {"tokens": 2**70, "cost": -(2**80)}


def test_nul_in_an_address_is_a_400_not_a_server_error(api):
    response = api.get(URL + "conv%00x/")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_conversation_whose_id_is_batch_can_be_read_back(api):
    assert api.post(URL, conversation_payload("batch")).status_code == 201

    response = api.get(URL + "batch/")

    assert response.status_code == 200
    assert response.json()["id"] == "batch"
    assert api.get(URL + "batch-2/").status_code == 404


@pytest.mark.parametrize(
    ("number", "field"),
    [("1e400", "metadata.big"), ("-2.5E+999", "messages.1.contexts.0.score")],
    ids=["overflowing-metadata", "overflowing-context-score"],
)
def test_a_number_too_large_for_a_float_is_400_naming_the_field(api, number, field):
    payload = conversation_payload()
    payload["metadata"]["big"] = "BIG"
    payload["messages"][1]["contexts"] = [{"id": "d1", "text": "t", "score": "BIG"}]
    body = json.dumps(payload).replace('"BIG"', number, 1)
    if field.startswith("messages"):
        body = json.dumps(payload).replace('"BIG"', "0", 1).replace('"BIG"', number, 1)

    response = api.post(URL, raw=body.encode())

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Conversation.objects.count() == 0


def test_hex_ids_that_look_like_exponents_take_the_fast_path(api):
    from annotations.payloads import has_nul_escape

    body = json.dumps(conversation_payload("13e456f-9e100-a1e999")).encode()

    assert not has_nul_escape(body)
    assert api.post(URL, raw=body).status_code == 201
