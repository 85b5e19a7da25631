"""The Messages API request shapes the fake checks, and its error responses, shaped like the real API's.

Validation is strict where client bugs hide (roles, types, required fields, unknown fields) and loose for
block types the fake never interprets (images, documents, tool results): those only need a string `type`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError


class ApiError(Exception):
    """An answer the fake gives instead of a success, with the status and `error.type` the real API uses."""

    def __init__(
        self, status: int, error_type: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = dict(headers or {})


def error_body(error_type: str, message: str, request_id: str | None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def invalid_request(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class CacheControl(_Strict):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] = "5m"


class TextBlock(_Strict):
    type: Literal["text"]
    text: Annotated[str, Field(min_length=1)]
    cache_control: CacheControl | None = None
    citations: list[Any] | None = None


class OtherBlock(BaseModel):
    """Image, document, tool_use, tool_result … blocks: passed through, counted, never interpreted."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    type: str
    cache_control: CacheControl | None = None


# Unions are discriminated up front so a bad value yields one error about the branch it meant, not one per
# branch; the tags ("<…>") are dropped from error locations.
def _block_kind(value: Any) -> str:
    block_type = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "<text>" if block_type == "text" else "<other>"


def _string_or_list(value: Any) -> str:
    return "<string>" if isinstance(value, str) else "<blocks>"


ContentBlock = Annotated[
    Annotated[TextBlock, Tag("<text>")] | Annotated[OtherBlock, Tag("<other>")], Discriminator(_block_kind)
]
Content = Annotated[
    Annotated[str, Tag("<string>")]
    | Annotated[Annotated[list[ContentBlock], Field(min_length=1)], Tag("<blocks>")],
    Discriminator(_string_or_list),
]
SystemPrompt = Annotated[
    Annotated[str, Tag("<string>")] | Annotated[list[TextBlock], Tag("<blocks>")],
    Discriminator(_string_or_list),
]


class MessageParam(_Strict):
    role: Literal["user", "assistant"]
    content: Content


class ToolParam(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    name: str
    cache_control: CacheControl | None = None


class Metadata(_Strict):
    user_id: Annotated[str, Field(max_length=256)] | None = None


class CountTokensRequest(_Strict):
    """The prompt part of a request: what `count_tokens` accepts and what input tokens are estimated from."""

    model: str
    messages: Annotated[list[MessageParam], Field(min_length=1)]
    system: SystemPrompt | None = None
    tools: list[ToolParam] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    #: Top-level cache control: the API puts the breakpoint on the last cacheable block.
    cache_control: CacheControl | None = None
    output_config: dict[str, Any] | None = None
    speed: Literal["standard", "fast"] | None = None
    user_profile_id: str | None = None


class MessagesRequest(CountTokensRequest):
    max_tokens: Annotated[int, Field(ge=1)]
    stream: bool = False
    stop_sequences: list[str] | None = None
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    metadata: Metadata | None = None
    service_tier: Literal["auto", "standard_only"] | None = None
    container: str | dict[str, Any] | None = None
    diagnostics: dict[str, Any] | None = None
    inference_geo: str | None = None


class BatchRequestItem(_Strict):
    custom_id: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    params: MessagesRequest


class BatchCreateRequest(_Strict):
    requests: Annotated[list[BatchRequestItem], Field(min_length=1)]


def parse[RequestT: BaseModel](model: type[RequestT], body: Any) -> RequestT:
    """Validate `body` or raise the 400 the real API gives, naming the first offending field."""
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"] if not str(part).startswith("<"))
        raise invalid_request(f"{where}: {first['msg']}" if where else first["msg"]) from exc
    if isinstance(parsed, BatchCreateRequest):
        for index, item in enumerate(parsed.requests):
            _check_conversation(item.params, where=f"requests.{index}.params.")
            if item.params.stream:
                raise invalid_request(f"requests.{index}.params.stream: batch requests cannot stream")
    elif isinstance(parsed, CountTokensRequest):
        _check_conversation(parsed)
    return parsed


def _check_conversation(request: CountTokensRequest, where: str = "") -> None:
    if request.messages[0].role != "user":
        raise invalid_request(f'{where}messages: first message must use the "user" role')
