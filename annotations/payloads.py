"""Validation of ingestion payloads at the API boundary.

pydantic validates the JSON in one pass in compiled code; ingesting thousands of
messages per request through nested DRF serializers costs several times more.
Every string is checked for NUL bytes, which PostgreSQL cannot store; invalid
UTF-8 and lone surrogates are already rejected by the JSON parser.
"""

import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

MAX_JSON_DEPTH = 20
MAX_CONTEXTS = 100
MAX_MESSAGES = 10_000
MAX_TAGS = 50


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _check_json(value: Any, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    _check_json(value)
    return value


def _version_string(value: Any) -> Any:
    # Prompt versions are often numbers in callers' code: accept 3 as "3".
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a timezone, e.g. 2026-11-25T10:00:00Z")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Identifier = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_no_nul)]
ShortText = Annotated[str, Field(max_length=255), AfterValidator(_no_nul)]
Tag = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]
AwareDatetime = Annotated[datetime.datetime | None, AfterValidator(_aware)]


class ContextIn(BaseModel):
    """A retrieved document shown to the model; unknown keys are kept as they are."""

    model_config = ConfigDict(extra="allow")

    id: Annotated[str, Field(max_length=255), AfterValidator(_no_nul)] | None = None
    title: Annotated[str, Field(max_length=1000), AfterValidator(_no_nul)] | None = None
    url: Annotated[str, Field(max_length=2048), AfterValidator(_no_nul)] | None = None
    text: Text = ""
    score: float | None = None

    @model_validator(mode="after")
    def _check_extra(self) -> "ContextIn":
        if self.model_extra:
            _check_json(self.model_extra)
        return self


class PromptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
    version: Annotated[
        str, BeforeValidator(_version_string), Field(max_length=100), AfterValidator(_no_nul)
    ] = ""


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    role: Literal["system", "user", "assistant", "tool"]
    content: Text
    model: Annotated[str, Field(max_length=200), AfterValidator(_no_nul)] | None = None
    prompt: PromptIn | None = None
    contexts: Annotated[list[ContextIn], Field(max_length=MAX_CONTEXTS, default_factory=list)]
    latency_ms: Annotated[StrictInt, Field(ge=0, le=2_147_483_647)] | None = None
    usage: Annotated[JsonObject, Field(default_factory=dict)]
    metadata: Annotated[JsonObject, Field(default_factory=dict)]
    created_at: AwareDatetime = None


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Identifier
    user: ShortText = ""
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS, default_factory=list)]
    metadata: Annotated[JsonObject, Field(default_factory=dict)]
    created_at: AwareDatetime = None
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

    conversations: Annotated[list[ConversationIn], Field(min_length=1)]


class BatchEnvelope(BaseModel):
    """The batch envelope alone, so that items can be validated one by one with own errors."""

    model_config = ConfigDict(extra="forbid")

    conversations: Annotated[list[dict[str, Any]], Field(min_length=1)]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation: Identifier
    message: Identifier
    user: Identifier
    rating: Literal["up", "down"]
    reasons: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_nul)]],
        Field(max_length=20),
    ] = []
    comment: Annotated[str, Field(max_length=10_000), AfterValidator(_no_nul)] = ""
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
