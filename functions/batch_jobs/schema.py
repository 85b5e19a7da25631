"""The work item: one SQS message asks for one Claude Messages call, and this is its documented shape.

The shape mirrors a Message Batches request (`custom_id` + `params`) so a JSONL file written for the Batches
API needs only an envelope to become kit work. Limits that depend on the deployment (model allow-list,
max_tokens cap, size) come from `ItemLimits` passed as pydantic validation context, so one model serves the
CLI and the consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from claude_kit.text import visible_text

#: The Message Batches API's own custom_id rule; job ids follow it too because they become S3 and table keys.
ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]


@dataclass(frozen=True, slots=True)
class ItemLimits:
    """What this deployment accepts; built from settings by whoever validates."""

    allowed_models: tuple[str, ...]
    default_model: str
    max_tokens_cap: int
    max_item_bytes: int


class InvalidWorkItemError(ValueError):
    """The message can never succeed as sent: reject it with `reason` instead of retrying it."""

    def __init__(self, reason: str, errors: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors or [reason]


def _limits(info: ValidationInfo) -> ItemLimits:
    if not isinstance(info.context, ItemLimits):
        # A programming error, not bad input: every caller must say which limits apply.
        raise TypeError("validate work items with parse_work_item(...) so deployment limits are applied")
    return info.context


def _visible_content(content: str | list[dict[str, Any]] | None) -> Any:
    """String content, and each text block, holds visible text; other block kinds pass to the API as sent."""
    if isinstance(content, str):
        return visible_text(content)
    for block in content or ():
        if block.get("type") == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise ValueError("a text block needs a string `text`")
            visible_text(text)
    return content


Content = Annotated[
    Annotated[str, Field(min_length=1)] | Annotated[list[dict[str, Any]], Field(min_length=1)],
    AfterValidator(_visible_content),
]


class Message(BaseModel):
    """Strict, like every model here: JSON types are taken as sent, never coerced (`true` is not 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    role: Literal["user", "assistant"]
    content: Content


class MessageParams(BaseModel):
    """Messages API parameters; anything beyond the fields below (temperature, tools …) passes through."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    model: Annotated[str | None, Field(validate_default=True)] = None
    max_tokens: Annotated[int, Field(gt=0)]
    messages: Annotated[list[Message], Field(min_length=1)]
    system: Content | None = None

    @field_validator("model", mode="after")
    @classmethod
    def _model_allowed(cls, value: str | None, info: ValidationInfo) -> str:
        limits = _limits(info)
        model = value or limits.default_model
        if model not in limits.allowed_models:
            raise ValueError(f"model {model!r} is not allowed here; allowed: {list(limits.allowed_models)}")
        return model

    @field_validator("max_tokens", mode="before")
    @classmethod
    def _integral_number(cls, value: object) -> object:
        """JSON has one number type: `64.0` is the integer 64 (as in JSON Schema); `true`, `"64"` are not."""
        return int(value) if isinstance(value, float) and value.is_integer() else value

    @field_validator("max_tokens", mode="after")
    @classmethod
    def _max_tokens_capped(cls, value: int, info: ValidationInfo) -> int:
        cap = _limits(info).max_tokens_cap
        if value > cap:
            raise ValueError(f"max_tokens {value} exceeds this deployment's cap of {cap}")
        return value

    @model_validator(mode="after")
    def _not_streaming(self) -> MessageParams:
        if (self.model_extra or {}).get("stream"):
            raise ValueError("stream is not available for queued work; results are stored, not streamed")
        return self

    def to_api(self) -> dict[str, Any]:
        """The `params` of a Messages / Message Batches request."""
        return self.model_dump(mode="json", exclude_none=True)

    @property
    def passthrough(self) -> dict[str, Any]:
        """Parameters other than model, max_tokens, messages and system."""
        return dict(self.model_extra or {})


class WorkItem(BaseModel):
    """Schema version 1, documented in docs/batch.md."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    schema_version: Literal[1] = 1
    custom_id: Identifier
    job_id: Identifier | None = None
    params: MessageParams
    user_id: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    #: The caller's own annotations, stored with the item and never sent to Claude.
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("schema_version", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):  # `true == 1` in Python: a Literal[1] alone would take it
            raise ValueError("must be the number 1")
        return value

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


def parse_work_item(body: str | bytes, limits: ItemLimits) -> WorkItem:
    """Validate one message body, or raise InvalidWorkItemError with a reason a caller can act on."""
    size = len(body.encode() if isinstance(body, str) else body)
    if size > limits.max_item_bytes:
        raise InvalidWorkItemError(f"item is {size} bytes; the limit is {limits.max_item_bytes} bytes")
    try:
        return WorkItem.model_validate_json(body, context=limits)
    except ValidationError as exc:
        errors = [_describe(error) for error in exc.errors(include_url=False)]
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise InvalidWorkItemError("body is not valid JSON", errors) from exc
        raise InvalidWorkItemError("item does not match work item schema version 1", errors) from exc


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-after["))
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message
