"""Chat settings from `KIT_CHAT_*` environment variables, validated once per container on first use."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from claude_kit import contract
from claude_kit.settings import KitSettings

#: Stored turns read to build a chat request's context; the context window then keeps what fits.
DEFAULT_HISTORY_TURNS = 100


class ChatSettings(KitSettings):
    model_config = SettingsConfigDict(env_prefix=contract.CHAT_ENV_PREFIX)

    #: DynamoDB table holding conversations (partition key `session_id`, sort key `seq`).
    sessions_table: str
    message_max_chars: Annotated[int, Field(gt=0)] = 32_000
    session_ttl_days: Annotated[int, Field(gt=0)] = 30
    #: Stored turns (newest first) read to build a request's context: one query; the window keeps what fits.
    history_turns: Annotated[int, Field(gt=0, le=1000)] = DEFAULT_HISTORY_TURNS
    #: Trust the `x-kit-user-id` header as the caller's identity. Only `make local` sets it: on AWS the
    #: identity comes from the API Gateway authorizer and this stays off.
    local_mode: bool = False
    cors_allow_origins: tuple[str, ...] = ()
    #: Serve the browser chat page (`GET /`, `/ui/…`): config `chat.web_page`; always on in `make local`.
    web_page: bool = False
    #: Serve the API docs (`GET /docs`, Swagger UI from an installed package): config `chat.api_docs`.
    api_docs: bool = False
    #: Seconds without a byte after which the event stream writes a `: keep-alive` comment line, well under
    #: API Gateway's 5-minute idle close of a REGIONAL streaming response (cdk.json chat.keepalive_seconds).
    keepalive_seconds: Annotated[float, Field(gt=0, le=240)] = 30.0


@cache
def get_chat_settings() -> ChatSettings:
    return ChatSettings()
