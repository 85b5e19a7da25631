"""What a test or `make local` can tune in the fake: key, pace, models, cache and batch behaviour, limits."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from local.fake_claude.scripted import ScriptedReply

PLACEHOLDER_API_KEY = "sk-ant-placeholder-test-key"
#: The Admin API key the Usage & Cost report endpoints accept (never the runtime key).
PLACEHOLDER_ADMIN_API_KEY = "sk-ant-admin01-placeholder-test-key"

#: Model ids the fake answers for; anything else gets the real API's 404 `not_found_error`.
KNOWN_MODELS = (
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-opus-5",
    "claude-sonnet-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
)

NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class FakeClaudeConfig(BaseModel):
    """Immutable; `FakeClaudeServer.configure(**changes)` swaps in a changed copy until the next `reset()`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: str = PLACEHOLDER_API_KEY
    admin_api_key: str = PLACEHOLDER_ADMIN_API_KEY
    #: The runtime key's id and workspace, as the Usage & Cost report names them (usage_report.py).
    api_key_id: str = "apikey_01FakeRuntimeKey"
    workspace_id: str = "wrkspc_01FakeDefault"
    #: Streaming pace; None sends every token at once (fast tests).
    tokens_per_second: Annotated[float, Field(gt=0)] | None = None
    first_token_delay_s: NonNegativeFloat = 0.0
    #: Seconds (on the fake's clock) between creating a batch and its results being ready.
    batch_processing_delay_s: NonNegativeFloat = 0.0
    #: Reply text for every request; None makes a deterministic text from each request.
    text: str | None = None
    #: Texts for matching requests, ahead of `text` (local/fake_claude/scripted.py).
    scripted_replies: tuple[ScriptedReply, ...] = ()
    models: tuple[str, ...] = KNOWN_MODELS
    #: Thinking tokens generated when a request enables extended thinking (never above its budget).
    thinking_tokens: PositiveInt = 40
    #: Shortest prefix (tokens) the prompt cache stores; the real minimum depends on the model.
    cache_min_tokens: PositiveInt = 1024
    batch_max_requests: PositiveInt = 100_000
    batch_max_bytes: PositiveInt = 256 * 1024 * 1024
    #: Per-minute limits reported in the `anthropic-ratelimit-*` headers.
    requests_per_minute: PositiveInt = 4_000
    input_tokens_per_minute: PositiveInt = 2_000_000
    output_tokens_per_minute: PositiveInt = 400_000
