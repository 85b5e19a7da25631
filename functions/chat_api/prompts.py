"""The environment's server-side prompt and parameters, and whether a caller may bring its own `system`.

Set per environment in cdk.json (`chat.system_prompt` or `chat.system_prompt_file`, `chat.params`,
`chat.default_max_tokens`, `chat.allow_caller_system`; docs/customize.md), passed as `KIT_CHAT_*` variables.

A request that sends `system` where callers may not is refused (422) before anything is stored or sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chat_api.errors import InvalidRequestError
from chat_api.models import ChatRequest
from claude_kit import contract
from claude_kit.settings import KitSettings

#: The bundle's root (functions/ in the repository, /var/task in Lambda): prompt files are relative to it.
BUNDLE_ROOT = Path(__file__).resolve().parents[1]
CALLER_SYSTEM_REFUSED = (
    "this deployment sets the system prompt itself; callers may not send one (chat.allow_caller_system)"
)


class PromptSettings(KitSettings):
    """Apart from ChatSettings so that any caller of `Conversation` gets the policy, table or not."""

    model_config = SettingsConfigDict(env_prefix=contract.CHAT_ENV_PREFIX)

    system_prompt: str | None = None
    #: Path relative to the bundle root, e.g. `chat_api/prompts/support.md`.
    system_prompt_file: str | None = None
    allow_caller_system: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    default_max_tokens: Annotated[int, Field(gt=0)] | None = None


@dataclass(frozen=True, slots=True)
class PromptPolicy:
    system: str | None = None
    allow_caller_system: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    default_max_tokens: int | None = None

    @classmethod
    def from_settings(cls, settings: PromptSettings, root: Path = BUNDLE_ROOT) -> PromptPolicy:
        system = settings.system_prompt
        if settings.system_prompt_file:
            system = (root / settings.system_prompt_file).read_text(encoding="utf-8").strip()
        return cls(system, settings.allow_caller_system, dict(settings.params), settings.default_max_tokens)

    def system_for(self, body: ChatRequest) -> str | None:
        """The caller's `system` where allowed (it replaces the server's), else the server's."""
        if body.system is None:
            return self.system
        if not self.allow_caller_system:
            raise InvalidRequestError({"system": CALLER_SYSTEM_REFUSED})
        return body.system


@cache
def get_prompt_policy() -> PromptPolicy:
    """Read once per container (the file too); tests call `get_prompt_policy.cache_clear()`."""
    return PromptPolicy.from_settings(PromptSettings())
