"""Chat messages with OpenAI-style tool calls: ingestion, validation, reading back, and
how the conversation and labeling pages show them."""

import copy
import json

import pytest
from django.urls import reverse

from annotations.models import Conversation, Membership, Message, QueueItem
from annotations.services.projects import membership_set, project_create
from annotations.services.queues import queue_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/"
HOSTILE = '{"query": "<script>alert(1)</script>", "email": "minji@example.com"}'


def tool_conversation(conversation_id: str = "conv-tools") -> dict:
    """A RAG turn that searches the docs through a tool before answering."""
    return {
        "id": conversation_id,
        "user": "u-7",
        "messages": [
            {"id": "m1", "role": "user", "content": "Celery 재시도는 어떻게 하나요?"},
            {
                "id": "m2",
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "search_docs", "arguments": HOSTILE},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_version", "arguments": "{}"},
                    },
                ],
            },
            {"id": "m3", "role": "tool", "tool_call_id": "call_1", "content": "autoretry_for=..."},
            {"id": "m4", "role": "tool", "tool_call_id": "call_2", "content": "5.4"},
            {"id": "m5", "role": "assistant", "content": "`autoretry_for`를 쓰세요.", "model": "m"},
        ],
    }


def test_tool_calls_are_stored_and_read_back_as_sent(api):
    response = api.post(URL, tool_conversation())

    assert response.status_code == 201, response.json()
    assert response.json()["messages_created"] == 5
    calling = Message.objects.get(external_id="m2")
    assert calling.content == ""
    assert [call["function"]["name"] for call in calling.tool_calls] == [
        "search_docs",
        "get_version",
    ]
    assert calling.tool_calls[0]["function"]["arguments"] == HOSTILE
    assert Message.objects.get(external_id="m3").tool_call_id == "call_1"
    assert Message.objects.get(external_id="m5").tool_calls == []
    assert Message.objects.get(external_id="m5").tool_call_id == ""

    body = api.get(f"{URL}conv-tools/").json()
    by_id = {message["id"]: message for message in body["messages"]}
    assert by_id["m2"]["tool_calls"] == tool_conversation()["messages"][1]["tool_calls"]
    assert by_id["m2"]["content"] == ""
    assert by_id["m4"]["tool_call_id"] == "call_2"
    assert by_id["m1"]["tool_calls"] == [] and by_id["m1"]["tool_call_id"] == ""


def test_a_replay_with_tool_calls_creates_nothing(api):
    api.post(URL, tool_conversation())

    again = api.post(URL, tool_conversation())

    assert again.status_code == 200
    assert again.json()["messages_created"] == 0
    assert Message.objects.count() == 5


def _mutated(change):
    payload = copy.deepcopy(tool_conversation())
    change(payload["messages"])
    return payload


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda m: m[0].update(tool_calls=m[1]["tool_calls"]),
            "messages.0",
            "only assistant messages call tools",
        ),
        (
            lambda m: m[4].update(tool_call_id="call_1"),
            "messages.4",
            "only tool messages answer a tool call",
        ),
        (
            lambda m: m[1]["tool_calls"][1].update(id="call_1"),
            "messages.1",
            "each call needs its own id",
        ),
        (
            lambda m: m[1]["tool_calls"][0].update(type="retrieval"),
            "messages.1.tool_calls.0.type",
            "",
        ),
        (lambda m: m[1]["tool_calls"][0].pop("function"), "messages.1.tool_calls.0.function", ""),
        (
            lambda m: m[1]["tool_calls"][0]["function"].update(name=""),
            "messages.1.tool_calls.0.function.name",
            "",
        ),
        (
            lambda m: m[1]["tool_calls"][0]["function"].update(arguments={"q": 1}),
            "messages.1.tool_calls.0.function.arguments",
            "",
        ),
        (
            lambda m: m[1]["tool_calls"][0]["function"].update(extra=1),
            "messages.1.tool_calls.0.function.extra",
            "",
        ),
        (lambda m: m[1]["tool_calls"][0].update(id="call\n1"), "messages.1.tool_calls.0.id", ""),
        (lambda m: m[2].update(tool_call_id=""), "messages.2.tool_call_id", ""),
        (lambda m: m[1].update(tool_calls=m[1]["tool_calls"] * 65), "messages.1.tool_calls", ""),
        (lambda m: m[1].update(tool_calls={"id": "call_1"}), "messages.1.tool_calls", ""),
    ],
    ids=[
        "calls-on-a-user-message",
        "call-id-on-an-assistant-message",
        "duplicate-call-ids",
        "not-a-function",
        "no-function",
        "empty-function-name",
        "arguments-not-text",
        "unknown-function-key",
        "control-character-in-call-id",
        "empty-call-id",
        "too-many-calls",
        "calls-not-a-list",
    ],
)
def test_malformed_tool_calls_are_400_naming_the_field_and_write_nothing(api, change, field, words):
    response = api.post(URL, _mutated(change))

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert field in fields, fields
    assert words in " ".join(fields[field])
    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m[0].pop("content"),
        lambda m: m[0].update(content=None),
        lambda m: m[2].pop("content"),
        lambda m: m[4].update(content=None),
    ],
    ids=["user-without-content", "user-null-content", "tool-without-content", "answer-null"],
)
def test_content_may_be_left_out_only_by_a_message_that_calls_tools(api, change):
    response = api.post(URL, _mutated(change))

    assert response.status_code == 400
    assert "content: required" in json.dumps(response.json()["error"]["fields"])
    assert Message.objects.count() == 0


def test_null_tool_calls_are_none(api):
    payload = _mutated(lambda m: m[4].update(tool_calls=None))

    assert api.post(URL, payload).status_code == 201
    assert Message.objects.get(external_id="m5").tool_calls == []


def test_a_step_that_calls_tools_cannot_be_rated_or_labeled(api, make_api, lead):
    project, _, _ = project_create(slug="tools", name="Tools", created_by=lead)
    client = make_api(project=project)
    assert client.post(URL, tool_conversation()).status_code == 201
    vote = {"conversation": "conv-tools", "user": "u-7", "rating": "up"}
    label = {
        "conversation": "conv-tools",
        "annotator": "judge-1",
        "source": "model",
        "answers": {"correctness": 5, "groundedness": 5, "helpfulness": 5},
    }

    step_vote = client.post("/api/v1/feedback/", {**vote, "message": "m2"})
    step_label = client.post("/api/v1/annotations/", {**label, "message": "m2"})
    tool_label = client.post("/api/v1/annotations/", {**label, "message": "m3"})

    assert step_vote.status_code == 400
    assert "calls tools" in json.dumps(step_vote.json())
    assert step_label.status_code == 400
    assert tool_label.status_code == 400
    assert client.post("/api/v1/feedback/", {**vote, "message": "m5"}).status_code == 201
    assert client.post("/api/v1/annotations/", {**label, "message": "m5"}).status_code == 201


@pytest.fixture
def lead():
    return UserFactory(username="lead")


def _ingested_project(api):
    assert api.post(URL, tool_conversation()).status_code == 201
    return Conversation.objects.get(external_id="conv-tools").project


def test_conversation_page_shows_the_calls_escaped(client, api):
    project = _ingested_project(api)
    viewer = UserFactory(username="watcher")
    membership_set(project=project, user=viewer, role=Membership.Role.VIEWER)
    client.force_login(viewer)

    page = client.get(
        reverse("conversation-detail", kwargs={"slug": project.slug, "external_id": "conv-tools"})
    ).content.decode()

    assert '<code class="tool-name">search_docs</code>' in page
    assert '<code class="tool-name">get_version</code>' in page
    # Arguments that are JSON are indented; markup in them is text.
    assert "&quot;query&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page
    assert "<script>alert(1)</script>" not in page
    assert "Result of the tool call call_1" in page
    korean = client.get(
        reverse("conversation-detail", kwargs={"slug": project.slug, "external_id": "conv-tools"}),
        headers={"Accept-Language": "ko"},
    ).content.decode()
    assert "도구 호출" in korean and "Calls the tool" not in korean
    assert "call_1 도구 호출의 결과" in korean


def test_labeling_page_shows_the_calls_before_the_answer(client, make_api, lead):
    project, _, _ = project_create(slug="tools", name="Tools", created_by=lead)
    assert make_api(project=project).post(URL, tool_conversation()).status_code == 201
    queue = queue_create(project=project, name="Tools", filters={}, created_by=lead)
    client.force_login(lead)
    response = client.get(
        reverse("queue-next", kwargs={"slug": project.slug, "queue_id": queue.pk})
    )
    item = QueueItem.objects.get(pk=int(response.url.rstrip("/").split("/")[-1]))

    page = client.get(response.url).content.decode()

    # The assistant message that only called tools is a step, not an answer to label.
    assert item.message.external_id == "m5"
    assert QueueItem.objects.filter(queue=queue).count() == 1
    calls = page.index('<code class="tool-name">search_docs</code>')
    assert page.index("Result of the tool call call_2") > calls
    assert page.index('id="answer"') > calls


def test_demo_chat_puts_the_widget_on_answers_not_on_tool_steps(client, make_api, lead):
    project, _, _ = project_create(slug="tools", name="Tools", created_by=lead)
    assert make_api(project=project).post(URL, tool_conversation()).status_code == 201
    client.force_login(lead)

    page = client.get("/demo/chat/", {"project": "tools"}).content.decode()

    assert 'data-feedback-message="m5"' in page
    assert 'data-feedback-message="m2"' not in page
    assert "autoretry_for=..." not in page


def test_a_message_that_says_something_and_calls_tools_is_a_step(client, make_api, lead):
    project, _, _ = project_create(slug="tools", name="Tools", created_by=lead)
    payload = _mutated(lambda m: m[1].update(content="Let me search the docs."))
    assert make_api(project=project).post(URL, payload).status_code == 201

    queue = queue_create(project=project, name="Tools", filters={}, created_by=lead)

    assert [item.message.external_id for item in QueueItem.objects.filter(queue=queue)] == ["m5"]


def test_deep_or_huge_arguments_are_shown_as_written_and_quickly():
    from annotations.views.messages import PRETTY_MAX_CHARS, tool_call_views

    deep = "[" * 900 + "]" * 900
    huge = json.dumps({"q": "x" * PRETTY_MAX_CHARS})

    def shown(arguments):
        return tool_call_views([{"id": "c", "function": {"name": "f", "arguments": arguments}}])[0][
            "arguments"
        ]

    assert shown(",".join([deep] * 500)) == ",".join([deep] * 500)
    assert shown(deep) == deep
    assert shown(huge) == huge
    assert shown('{"q": [1]}') == '{\n  "q": [\n    1\n  ]\n}'
