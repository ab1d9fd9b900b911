"""Conversations with tool calls, ingested through the API's service and exported: the
database's item builder (PostgreSQL) and the portable reader (SQLite) both carry the
calls and the results into every kind and format."""

import json

import pyarrow.parquet as pq
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotations.models import Message
from annotations.payloads import ConversationIn
from annotations.services.annotations import annotation_submit
from annotations.services.ingest import conversation_ingest
from annotations.services.rubrics import rubric_create_default
from tests.annotations.test_tool_calls import HOSTILE, tool_conversation
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def labeled_tool_project(conversation: dict):
    """Project "tools" holding the conversation, its answer m5 rated good by a reviewer."""
    project = ProjectFactory(slug="tools", name="Tools")
    rubric_create_default(project=project)
    conversation_ingest(project=project, conversation=ConversationIn.model_validate(conversation))
    reviewer = get_user_model().objects.create(username="mina")
    annotation_submit(
        message=Message.objects.get(external_id="m5"),
        reviewer=reviewer,
        answers={"correctness": 5, "groundedness": 5, "helpfulness": 5},
    )
    return project


@pytest.fixture
def tool_project():
    return labeled_tool_project(tool_conversation())


def run_export(tmp_path, kind, file_format, *args):
    output = tmp_path / f"{kind}.{file_format}"
    call_command(
        "export_dataset",
        "--project=tools",
        f"--kind={kind}",
        f"--format={file_format}",
        f"--output={output}",
        "--quiet",
        *args,
    )
    return output


CALLS = tool_conversation()["messages"][1]["tool_calls"]


def test_raw_jsonl_history_holds_the_calls_and_their_results(tool_project, tmp_path):
    [row] = [json.loads(line) for line in run_export(tmp_path, "raw", "jsonl").open()]

    # Only the final answer is a row: the message that only called tools is a step.
    assert row["message_id"] == "m5"
    assert row["history"] == [
        {"role": "user", "content": "Celery 재시도는 어떻게 하나요?"},
        {"role": "assistant", "content": "", "tool_calls": CALLS},
        {"role": "tool", "content": "autoretry_for=...", "tool_call_id": "call_1"},
        {"role": "tool", "content": "5.4", "tool_call_id": "call_2"},
    ]


def test_sft_parquet_holds_a_chat_a_fine_tuning_api_accepts(tool_project, tmp_path):
    [row] = pq.read_table(run_export(tmp_path, "sft", "parquet")).to_pylist()

    messages = row["messages"]
    assert [message["role"] for message in messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    assert messages[1]["tool_calls"] == CALLS
    assert messages[1]["weight"] == 0
    assert [message["tool_call_id"] for message in messages[2:4]] == ["call_1", "call_2"]
    assert messages[4] == {
        "role": "assistant",
        "content": "`autoretry_for`를 쓰세요.",
        "tool_calls": None,
        "tool_call_id": None,
        "weight": 1,
    }


def test_redacted_export_redacts_call_arguments(tool_project, tmp_path):
    [row] = [
        json.loads(line) for line in run_export(tmp_path, "raw", "jsonl", "--redact-pii").open()
    ]

    arguments = row["history"][1]["tool_calls"][0]["function"]["arguments"]
    assert "minji@example.com" not in arguments
    assert json.loads(arguments)["email"] == "[EMAIL]"
    assert "minji@example.com" in HOSTILE


def test_parquet_and_the_card_type_the_tool_fields_only_for_projects_that_call_tools(
    tool_project, tmp_path
):
    from exports.rows import RowOptions
    from exports.schemas import schema_for

    with_tools = pq.read_schema(run_export(tmp_path, "sft", "parquet"))
    message = with_tools.field("messages").type.value_type
    assert [field.name for field in message] == [
        "role",
        "content",
        "tool_calls",
        "tool_call_id",
        "weight",
    ]
    plain = schema_for("sft", RowOptions()).field("messages").type.value_type
    assert [field.name for field in plain] == ["role", "content", "weight"]


def test_a_project_that_logs_only_tool_results_gets_the_tool_fields_too(tmp_path):
    """A client may log tool results and strip the calls: Parquet keeps their ids as
    JSONL does."""
    payload = tool_conversation()
    payload["messages"] = [message for message in payload["messages"] if message["id"] != "m2"]
    labeled_tool_project(payload)

    [row] = pq.read_table(run_export(tmp_path, "raw", "parquet")).to_pylist()

    assert [message.get("tool_call_id") for message in row["history"]] == [
        None,
        "call_1",
        "call_2",
    ]
