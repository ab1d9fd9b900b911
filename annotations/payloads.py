"""Validation of ingestion payloads at the API boundary.

pydantic validates the JSON in one pass in compiled code; ingesting thousands of
messages per request through nested DRF serializers costs several times more, so
no per-field Python validator runs on the hot path. Invalid UTF-8 and lone
surrogates are rejected by the JSON parser. NUL characters, which PostgreSQL
cannot store, can only arrive as the escape \\u0000: the raw body is searched
for it once, and only a body that holds it is walked to name the fields.
"""

import datetime
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import TypedDict

MAX_CONTEXTS = 100
MAX_TOOL_CALLS = 128
MAX_MESSAGES = 10_000
MAX_TAGS = 50
MAX_CONTENT_CHARS = 1_000_000
MAX_BATCH_CONVERSATIONS = 1000
NUL_MESSAGE = "must not contain NUL characters"
NUMBER_MESSAGE = "must be a finite number (NaN and Infinity are not JSON)"
# Times before 1970 or from 2100 on are mistakes (a zero date, seconds taken for
# milliseconds), and the extremes overflow once moved to UTC.
EARLIEST = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
LATEST = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)
Timestamp = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]

# Ids are used in addresses (/api/v1/conversations/<id>/): no control characters,
# which a path cannot carry (a newline) or the database cannot store (NUL).
Identifier = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
ShortText = Annotated[str, Field(max_length=255)]
Tag = Annotated[str, Field(min_length=1, max_length=100)]


# An exponent of three digits or more (1e400 parses as an infinite float), ending as
# JSON numbers do: hex ids ("13e456f-9e100-...") do not match. One pattern per case
# of the letter: a pattern that starts with a literal is searched for by that
# literal, about fifteen times faster over a batch body than one that starts with a
# character class.
_LARGE_EXPONENTS = tuple(
    re.compile(letter + rb"\+?[0-9]{3,}(?=[\s,}\]])") for letter in (b"e", b"E")
)


def has_nul_escape(body: bytes) -> bool:
    """Whether a JSON body may decode to a value the database cannot store: a string
    holding NUL, or NaN / Infinity (written so, or a number too large for a float,
    which parses as infinity), which JSON parsers here accept but JSON columns cannot
    hold (cheap, may say yes wrongly)."""
    return (
        b"\\u0000" in body
        or b"NaN" in body
        or b"Infinity" in body
        or any(pattern.search(body) is not None for pattern in _LARGE_EXPONENTS)
    )


def nul_fields(value: Any, prefix: str = "") -> dict[str, list[str]]:
    """The paths of every string (or key) holding NUL and of every NaN or infinite
    number, as {"messages.0.content": [...]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(value, str):
        if "\x00" in value:
            fields[prefix.rstrip(".") or "body"] = [NUL_MESSAGE]
    elif isinstance(value, float):
        if not math.isfinite(value):
            fields[prefix.rstrip(".") or "body"] = [NUMBER_MESSAGE]
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                fields[prefix + key.replace("\x00", "\\u0000")] = [NUL_MESSAGE]
            fields.update(nul_fields(item, f"{prefix}{key}."))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            fields.update(nul_fields(item, f"{prefix}{index}."))
    return fields


class JsonValue(RootModel[Any]):
    """Any JSON document, parsed by the same parser as the payloads."""


class ContextIn(TypedDict, total=False):
    """A retrieved document shown to the model; unknown keys are kept as they are.

    A TypedDict validates straight into the dict that is stored: thousands of
    contexts per batch need no model objects.
    """

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    id: Annotated[str, Field(max_length=255)] | None
    title: Annotated[str, Field(max_length=1000)] | None
    url: Annotated[str, Field(max_length=2048)] | None
    text: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)]
    score: float | None


class PromptIn(BaseModel):
    # Prompt versions are often numbers in callers' code: 3 is taken as "3".
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    version: Annotated[str, Field(max_length=100)] = ""


class FunctionCallIn(TypedDict):
    """The function an assistant message calls, as OpenAI's chat format writes it:
    the arguments are the JSON text the model wrote (kept as written, valid or not)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    name: Annotated[str, Field(min_length=1, max_length=200)]
    arguments: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)]


class ToolCallIn(TypedDict):
    """One entry of an assistant message's `tool_calls`, validated straight into a dict."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    id: Identifier
    type: Literal["function"]
    function: FunctionCallIn


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    role: Literal["system", "user", "assistant", "tool"]
    # null or absent only on an assistant message that calls tools, as OpenAI writes it.
    content: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)] | None = None
    model: Annotated[str, Field(max_length=200)] | None = None
    prompt: PromptIn | None = None
    contexts: Annotated[list[ContextIn], Field(max_length=MAX_CONTEXTS, default_factory=list)]
    latency_ms: Annotated[StrictInt, Field(ge=0, le=2_147_483_647)] | None = None
    usage: Annotated[dict[str, Any], Field(default_factory=dict)]
    metadata: Annotated[dict[str, Any], Field(default_factory=dict)]
    # null is none, as some clients write it.
    tool_calls: Annotated[list[ToolCallIn], Field(max_length=MAX_TOOL_CALLS)] | None = None
    tool_call_id: Identifier | None = None
    created_at: Timestamp | None = None

    @model_validator(mode="after")
    def _tool_fields_fit_the_role(self) -> "MessageIn":
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(
                "content: required (only an assistant message that calls tools may leave it "
                "null or out)"
            )
        if self.tool_calls and self.role != "assistant":
            raise ValueError("tool_calls: only assistant messages call tools")
        if self.tool_call_id is not None and self.role != "tool":
            raise ValueError("tool_call_id: only tool messages answer a tool call")
        if self.tool_calls:
            ids = [call["id"] for call in self.tool_calls]
            if len(set(ids)) != len(ids):
                raise ValueError("tool_calls: each call needs its own id")
        return self


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    user: ShortText = ""
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS, default_factory=list)]
    metadata: Annotated[dict[str, Any], Field(default_factory=dict)]
    created_at: Timestamp | None = None
    messages: Annotated[list[MessageIn], Field(max_length=MAX_MESSAGES, default_factory=list)]

    @field_validator("messages")
    @classmethod
    def _unique_message_ids(cls, messages: list[MessageIn]) -> list[MessageIn]:
        seen: set[str] = set()
        for message in messages:
            if message.id in seen:
                raise ValueError(f"message id {message.id!r} appears more than once")
            seen.add(message.id)
        return messages


class BatchIn(BaseModel):
    """A batch of conversations, validated in one pass when every item is valid."""

    model_config = ConfigDict(extra="forbid")

    conversations: Annotated[
        list[ConversationIn], Field(min_length=1, max_length=MAX_BATCH_CONVERSATIONS)
    ]


class BatchEnvelope(BaseModel):
    """The batch envelope alone, so that items can be validated one by one with own errors."""

    model_config = ConfigDict(extra="forbid")

    # Bounded here, so that an oversized batch is refused before its items are read.
    conversations: Annotated[
        list[dict[str, Any]], Field(min_length=1, max_length=MAX_BATCH_CONVERSATIONS)
    ]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation: Identifier
    message: Identifier
    user: Identifier
    rating: Literal["up", "down"]
    reasons: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]],
        Field(max_length=20, default_factory=list),
    ]
    comment: Annotated[str, Field(max_length=10_000)] = ""
    token: Annotated[str, Field(max_length=200)] | None = None

    @field_validator("reasons")
    @classmethod
    def _distinct_reasons(cls, reasons: list[str]) -> list[str]:
        return list(dict.fromkeys(reasons))


def validation_fields(error: ValidationError, prefix: str = "") -> dict[str, list[str]]:
    """Turn a pydantic error into {"messages.1.role": ["..."]} for the API error shape."""
    fields: dict[str, list[str]] = {}
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"])
        key = f"{prefix}{location}" if location else (prefix.rstrip(".") or "body")
        message = item["msg"].removeprefix("Value error, ")
        fields.setdefault(key, []).append(message)
    return fields


class WidgetWithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation: Identifier
    message: Identifier
    user: Identifier
    token: Annotated[str, Field(max_length=200)] | None = None


class AnnotationImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation: Identifier
    message: Identifier
    annotator: Identifier
    source: Literal["human", "model"] = "human"
    answers: dict[str, Any]
    corrected_answer: Annotated[str, Field(max_length=MAX_CONTENT_CHARS)] | None = None


class RubricIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] = "Answer quality"
    questions: list[dict[str, Any]]


class QueueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    instructions: Annotated[str, Field(max_length=20_000)] = ""
    filters: dict[str, Any] = Field(default_factory=dict)
    order: Literal["down_first", "oldest", "newest", "random"] = "down_first"
    annotations_per_item: Annotated[StrictInt, Field(ge=1, le=10)] = 1
    lease_minutes: Annotated[StrictInt, Field(ge=1, le=1440)] = 30
