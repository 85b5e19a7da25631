"""The chat API's request, response and event shapes: what the OpenAPI document publishes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from claude_kit.text import VisibleText

#: Session ids are server-issued UUIDs; anything else is rejected before a database or Claude call.
SESSION_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
SessionId = Annotated[
    str,
    Field(pattern=SESSION_ID_PATTERN, description="A session id returned by an earlier `POST /chat` (UUID)."),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatRequest(_Model):
    """One user message. Limits that depend on the deployment (length, models, max_tokens) are checked too.

    Strict: JSON types are taken as sent (`"stream": "yes"` or `"max_tokens": true` are refused, not coerced).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    session_id: SessionId | None = Field(default=None, description="Continue this session, or omit.")
    message: VisibleText = Field(description="The user's message (at most `message_max_chars`).")
    system: VisibleText | None = Field(
        default=None, description="System prompt for this call, where the deployment allows one (else 422)."
    )
    model: str | None = Field(default=None, description="One of the deployment's allowed models.")
    max_tokens: int | None = Field(default=None, gt=0, description="Answer length cap (within the cap).")
    stream: bool = Field(default=True, description="Server-sent events (true) or one JSON answer (false).")

    @field_validator("max_tokens", mode="before")
    @classmethod
    def _integral_number(cls, value: object) -> object:
        """JSON has one number type: `64.0` is the integer 64 (as in JSON Schema); `true`, `"64"` are not."""
        return int(value) if isinstance(value, float) and value.is_integer() else value


class Usage(_Model):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class ChatAnswer(_Model):
    """The whole answer, for `stream: false`."""

    session_id: str
    message_id: str
    model: str
    text: str
    stop_reason: str | None
    usage: Usage
    cost_usd: float | None = Field(description="Estimated cost in USD; null when the price is unknown.")


class ChatEvent(_Model):
    """Base of the server-sent events; `event` is the SSE event name."""

    event: ClassVar[str]


class StartEvent(ChatEvent):
    event: ClassVar[str] = "start"
    session_id: str
    message_id: str = Field(description="Id of the assistant turn being written.")
    model: str


class DeltaEvent(ChatEvent):
    event: ClassVar[str] = "delta"
    text: str


#: A `delta` event's frame up to its data: the one part of the stream written per text piece.
_DELTA_FRAME_START = b'event: delta\ndata: {"text":'


@dataclass(frozen=True, slots=True)
class DeltaEvents:
    """Text deltas that arrived together: each its own `delta` event (`DeltaEvent`'s shape), framed at once
    and written as one chunk. Built by hand because it runs per text piece: no model round trip."""

    texts: list[str]

    def frames(self) -> bytes:
        return b"".join(
            _DELTA_FRAME_START + json.dumps(text, ensure_ascii=False).encode() + b"}\n\n"
            for text in self.texts
        )


class DoneEvent(ChatEvent):
    event: ClassVar[str] = "done"
    message_id: str
    model: str
    stop_reason: str | None
    usage: Usage
    cost_usd: float | None


class ErrorEvent(ChatEvent):
    """The answer failed after the stream started; the text received so far is stored as a partial turn."""

    event: ClassVar[str] = "error"
    type: str = Field(description="Machine-readable error type, e.g. `overloaded_error`, `rate_limit_error`.")
    message: str = Field(description="A message safe to show to the user.")
    retryable: bool = Field(description="Sending the same message again may succeed.")


class TurnOut(_Model):
    seq: int
    role: Literal["user", "assistant"]
    text: str
    message_id: str
    created_at: str
    partial: bool = Field(description="True when the answer failed or the client went away before the end.")
    model: str | None = None
    stop_reason: str | None = None


class SessionHistory(_Model):
    session_id: str
    created_at: str
    turns: list[TurnOut]


class FieldProblem(_Model):
    field: str = Field(description="Dotted path of the offending field, e.g. `message` or `session_id`.")
    problem: str


class ErrorInfo(_Model):
    type: str
    message: str
    fields: list[FieldProblem] = Field(default_factory=list)


class ErrorResponse(_Model):
    """Every non-2xx JSON answer has this shape."""

    error: ErrorInfo


class Health(_Model):
    status: Literal["ok"] = "ok"


@dataclass(frozen=True, slots=True)
class Limits:
    """The deployment's limits on a request, from settings; checked before anything is stored or sent."""

    message_max_chars: int
    max_tokens_cap: int
    allowed_models: tuple[str, ...]
    #: Whether callers may send `system` (chat.allow_caller_system); when not, the document omits it.
    caller_system: bool = True

    def publish(self, schema: dict[str, Any]) -> None:
        """Write these limits into `ChatRequest`'s JSON schema, so the OpenAPI document states them."""
        properties = schema["properties"]
        _non_null(properties["message"])["maxLength"] = self.message_max_chars
        if self.caller_system:
            _non_null(properties["system"])["maxLength"] = self.message_max_chars
        else:
            del properties["system"]
        _non_null(properties["max_tokens"])["maximum"] = self.max_tokens_cap
        _non_null(properties["model"])["enum"] = list(self.allowed_models)

    def problems(self, body: ChatRequest) -> dict[str, str]:
        """Field name → what is wrong with it; empty when the request is within limits."""
        problems: dict[str, str] = {}
        for name, text in (("message", body.message), ("system", body.system)):
            if text is not None and len(text) > self.message_max_chars:
                problems[name] = f"must be at most {self.message_max_chars} characters"
        if body.max_tokens is not None and body.max_tokens > self.max_tokens_cap:
            problems["max_tokens"] = f"must be at most {self.max_tokens_cap}"
        if body.model is not None and body.model not in self.allowed_models:
            problems["model"] = f"must be one of {list(self.allowed_models)}"
        return problems


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field's schema (`anyOf: [{...}, {"type": "null"}]`), or itself."""
    for branch in schema.get("anyOf", ()):
        if branch.get("type") != "null":
            found: dict[str, Any] = branch
            return found
    return schema
