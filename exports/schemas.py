"""The fixed Arrow schema of each export kind (Parquet), and the column order of all.

Nested data are real list and struct columns. The only JSON strings are the answer
maps whose value types depend on the project's rubric (annotation answers, the
consensus, eval labels, the gold label): a column's type cannot change between
projects, so they are marked `json` in the field metadata and serialized.

Only Parquet exports and dataset cards import this module (and pyarrow with it):
JSON Lines and CSV exports take their column order from exports.rows.
"""

import pyarrow as pa

from exports.rows import SCHEMA_VERSION, RowOptions, columns_for

__all__ = ["JSON", "SCHEMA_VERSION", "schema_for"]

JSON = {b"json": b"true"}

TOOL_CALL = pa.struct(
    [
        ("id", pa.string()),
        ("type", pa.string()),
        ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())])),
    ]
)
# Null where a message has none (JSON rows leave the keys out).
TOOL_FIELDS = [("tool_calls", pa.list_(TOOL_CALL)), ("tool_call_id", pa.string())]


def _chat_message(tools: bool) -> pa.DataType:
    return pa.struct(
        [("role", pa.string()), ("content", pa.string()), *(TOOL_FIELDS if tools else [])]
    )


def _training_message(tools: bool) -> pa.DataType:
    """An SFT message: "weight" 1 on the answer trained on, 0 on earlier assistant
    turns, null on system, user and tool messages (OpenAI allows it on assistant
    messages only)."""
    return pa.struct(
        [
            ("role", pa.string()),
            ("content", pa.string()),
            *(TOOL_FIELDS if tools else []),
            ("weight", pa.int64()),
        ]
    )


CONTEXT = pa.struct(
    [
        ("id", pa.string()),
        ("title", pa.string()),
        ("url", pa.string()),
        ("text", pa.string()),
        ("score", pa.float64()),
    ]
)
FEEDBACK = pa.struct(
    [
        ("up", pa.int64()),
        ("down", pa.int64()),
        ("reasons", pa.list_(pa.struct([("reason", pa.string()), ("count", pa.int64())]))),
        ("comments", pa.list_(pa.string())),
    ]
)
VOTE = pa.struct(
    [
        ("user", pa.string()),
        ("rating", pa.string()),
        ("reasons", pa.list_(pa.string())),
        ("comment", pa.string()),
        ("source", pa.string()),
        ("created_at", pa.string()),
    ]
)
ANNOTATION = pa.struct(
    [
        pa.field("annotator", pa.string()),
        pa.field("source", pa.string()),
        pa.field("rubric_version", pa.int64()),
        pa.field("answers", pa.string(), metadata=JSON),
        pa.field("corrected_answer", pa.string()),
        pa.field("created_at", pa.string()),
        pa.field("updated_at", pa.string()),
    ]
)


def _fields(tools: bool) -> dict[str, pa.Field]:
    chat_message = _chat_message(tools)
    return {
        field.name: field
        for field in [
            pa.field("conversation_id", pa.string()),
            pa.field("message_id", pa.string()),
            pa.field("created_at", pa.string()),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("end_user", pa.string()),
            pa.field("history", pa.list_(chat_message)),
            pa.field("answer", pa.string()),
            pa.field("contexts", pa.list_(CONTEXT)),
            pa.field("model", pa.string()),
            pa.field("prompt_name", pa.string()),
            pa.field("prompt_version", pa.string()),
            pa.field("latency_ms", pa.int64()),
            pa.field("feedback", FEEDBACK),
            pa.field("votes", pa.list_(VOTE)),
            pa.field("annotations", pa.list_(ANNOTATION)),
            pa.field("consensus", pa.string(), metadata=JSON),
            pa.field("agreement", pa.float64()),
            pa.field("gold_label", pa.string(), metadata=JSON),
            pa.field("corrected_answer", pa.string()),
            pa.field("user_input", pa.string()),
            pa.field("response", pa.string()),
            pa.field("retrieved_contexts", pa.list_(pa.string())),
            pa.field("reference", pa.string()),
            pa.field("labels", pa.string(), metadata=JSON),
            pa.field("messages", pa.list_(_training_message(tools))),
            pa.field("prompt", pa.list_(chat_message)),
            pa.field("chosen", pa.list_(chat_message)),
            pa.field("rejected", pa.list_(chat_message)),
            pa.field("input", pa.struct([("messages", pa.list_(chat_message))])),
            pa.field("preferred_output", pa.list_(chat_message)),
            pa.field("non_preferred_output", pa.list_(chat_message)),
        ]
    }


def schema_for(kind: str, options: RowOptions, *, tools: bool = False) -> pa.Schema:
    """The Arrow schema of a kind's rows, columns in row order; with `tools`, chat
    messages have the tool call fields."""
    fields = _fields(tools)
    return pa.schema(
        [fields[name] for name in columns_for(kind, options)],
        metadata={
            b"feedback_site.kind": kind.encode(),
            b"schema_version": str(SCHEMA_VERSION).encode(),
        },
    )
