import datetime

import pytest
from django.db import connection, transaction

from annotations.models import Conversation, Message
from annotations.payloads import ConversationIn
from annotations.services.ingest import conversation_batch_ingest, conversation_ingest
from tests.conftest import conversation_payload

pytestmark = pytest.mark.django_db


def _payload(conversation_id: str = "conv-123", **overrides: object) -> ConversationIn:
    return ConversationIn.model_validate(conversation_payload(conversation_id, **overrides))


def test_creates_conversation_with_messages_in_order(project):
    result = conversation_ingest(project=project, conversation=_payload())

    assert (result.status, result.messages_created) == ("created", 2)
    conversation = Conversation.objects.get(project=project, external_id="conv-123")
    assert conversation.end_user == "u-42"
    assert conversation.tags == ["beta"]
    rows = list(conversation.messages.order_by("position").values_list("external_id", "position"))
    assert rows == [("m1", 0), ("m2", 1)]
    answer = conversation.messages.get(external_id="m2")
    assert answer.project_id == project.pk
    assert (answer.model, answer.prompt_name, answer.prompt_version) == (
        "gpt-4o-mini",
        "devot-rag",
        "3",
    )
    assert answer.contexts[0]["id"] == "doc-7"
    assert answer.contexts[0]["score"] == 0.83
    assert answer.latency_ms == 1234
    assert answer.usage == {"prompt_tokens": 100, "completion_tokens": 50}


def test_replay_creates_nothing(project):
    conversation_ingest(project=project, conversation=_payload())
    result = conversation_ingest(project=project, conversation=_payload())

    assert (result.status, result.messages_created) == ("existed", 0)
    assert Conversation.objects.count() == 1
    assert Message.objects.count() == 2


def test_append_adds_only_new_messages_after_the_last_position(project):
    conversation_ingest(project=project, conversation=_payload())
    replay = conversation_payload()
    replay["messages"][0]["content"] = "changed text is ignored for a known id"
    replay["messages"].append({"id": "m3", "role": "user", "content": "고마워요"})

    result = conversation_ingest(
        project=project, conversation=ConversationIn.model_validate(replay)
    )

    assert (result.status, result.messages_created) == ("existed", 1)
    rows = list(
        Message.objects.order_by("position").values_list("external_id", "position", "content")
    )
    assert rows[0] == ("m1", 0, "Celery 워커가 작업을 안 가져가요.")
    assert rows[2] == ("m3", 2, "고마워요")


def test_append_merges_new_tags(project):
    conversation_ingest(project=project, conversation=_payload(tags=["beta"]))
    conversation_ingest(project=project, conversation=_payload(tags=["beta", "ko"]))

    assert Conversation.objects.get().tags == ["beta", "ko"]


def test_caller_timestamps_are_kept(project):
    created = datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.UTC)
    payload = conversation_payload(created_at=created.isoformat())
    payload["messages"][1]["created_at"] = "2026-03-01T09:30:05+00:00"

    conversation_ingest(project=project, conversation=ConversationIn.model_validate(payload))

    conversation = Conversation.objects.get()
    assert conversation.created_at == created
    messages = dict(conversation.messages.values_list("external_id", "created_at"))
    assert messages["m1"] == created
    assert messages["m2"] == created + datetime.timedelta(seconds=5)


def test_same_external_id_in_two_projects_is_two_conversations(project):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    conversation_ingest(project=project, conversation=_payload())
    result = conversation_ingest(project=other, conversation=_payload())

    assert result.status == "created"
    assert Conversation.objects.filter(external_id="conv-123").count() == 2


def test_batch_results_follow_input_order(project):
    conversation_ingest(project=project, conversation=_payload("b"))
    items = [_payload(name) for name in ["a", "b", "c"]]

    results = conversation_batch_ingest(project=project, conversations=items)

    assert [(r.external_id, r.status) for r in results] == [
        ("a", "created"),
        ("b", "existed"),
        ("c", "created"),
    ]


def test_batch_query_count_does_not_grow_with_size(project):
    from django.db import connection

    small = [_payload(f"s-{i}") for i in range(5)]
    large = [_payload(f"l-{i}") for i in range(400)]
    conversation_batch_ingest(project=project, conversations=small[:1])  # warm caches

    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small_queries:
        conversation_batch_ingest(project=project, conversations=small)
    with CaptureQueriesContext(connection) as large_queries:
        conversation_batch_ingest(project=project, conversations=large)

    assert Message.objects.filter(conversation__external_id__startswith="l-").count() == 800
    if connection.vendor == "postgresql":
        assert len(large_queries) <= len(small_queries)
    else:
        # SQLite caps the variables of one statement (999), so bulk inserts go in
        # chunks: 800 messages of 16 columns take 13 statements.
        assert len(large_queries) < len(large) / 10


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_a_row_that_copy_refuses_raises_djangos_data_error(project):
    from django.db import DataError

    from annotations.services.bulk import rows_insert

    conversation = Conversation.objects.create(project=project, external_id="c", end_user="u")
    with pytest.raises(DataError), transaction.atomic():
        rows_insert(
            model=Message,
            fields=["conversation_id", "external_id", "position", "role", "content", "latency_ms"],
            rows=[(conversation.pk, "m1", 0, "user", "q", 2**40)],
        )


def test_an_outage_fails_the_batch_instead_of_each_item(project, monkeypatch):
    from django.db import OperationalError

    from annotations.services import ingest

    calls = []

    def unavailable(**kwargs):
        calls.append(kwargs)
        raise OperationalError("the database is gone")

    monkeypatch.setattr(ingest, "_ingest", unavailable)
    conversations = [
        ConversationIn.model_validate(conversation_payload(f"c-{i}")) for i in range(3)
    ]

    with pytest.raises(OperationalError):
        ingest.conversation_batch_ingest(project=project, conversations=conversations)
    assert len(calls) == 1
