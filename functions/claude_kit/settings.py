"""Runtime settings for every function, from the `KIT_*` variables the stack (or `make local`) sets."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from claude_kit import contract

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class KitSettings(BaseSettings):
    """Base of the kit's settings models: `KIT_`-prefixed variables, frozen once read, the rest ignored."""

    model_config = SettingsConfigDict(env_prefix=contract.ENV_PREFIX, frozen=True, extra="ignore")


class RuntimeSettings(KitSettings):
    """Validated once per container; defaults match infra/config.py so a bare local run behaves like dev."""

    env_name: str = "local"
    #: Secrets Manager secret whose SecretString is the Anthropic API key. Never the key itself.
    api_key_secret_name: str | None = None
    #: Only set locally (fake Claude); unset in AWS so the SDK talks to the real API.
    claude_base_url: str | None = None

    model: str = "claude-sonnet-5-5"
    fallback_model: str | None = None
    allowed_models: tuple[str, ...] = ("claude-sonnet-5-5", "claude-haiku-5-5")
    max_tokens_cap: PositiveInt = 4096

    context_max_turns: PositiveInt = 40
    context_max_tokens: PositiveInt = 100_000
    #: "estimate" counts locally (free, approximate); "api" asks the count_tokens endpoint (exact, slower).
    context_counter: Literal["estimate", "api"] = "estimate"
    prompt_caching: bool = True

    secret_cache_ttl_seconds: PositiveInt = 300
    connect_timeout_seconds: PositiveFloat = 5.0
    read_timeout_seconds: PositiveFloat = 60.0
    #: Longest silence tolerated between two stream events.
    stream_read_timeout_seconds: PositiveFloat = 120.0

    rate_limit_max_attempts: PositiveInt = 5
    retry_base_seconds: PositiveFloat = 1.0
    retry_max_backoff_seconds: PositiveFloat = 20.0
    #: A `retry-after` longer than this is not waited for: the caller gets the rate-limit error at once.
    retry_after_max_seconds: PositiveFloat = 60.0
    #: Retry an attempt that may have been billed without an answer (a whole message's read timeout).
    retry_ambiguous: bool = False
    #: Streams: no retry wait may end later than this many seconds after the call started (None: no limit).
    first_token_deadline_seconds: PositiveFloat | None = 30.0

    #: USD per million tokens, merged over data/models.json: {"model": {"input": 3.0, ...}}.
    price_overrides: dict[str, dict[str, float]] = Field(default_factory=dict)


@cache
def get_settings() -> RuntimeSettings:
    """The container's settings, read on first use (tests call `get_settings.cache_clear()`)."""
    return RuntimeSettings()
