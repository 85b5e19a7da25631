"""SDK clients pointed at the shared fake, without the SDK's own retries (a test decides what is retried)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer

MODEL = "claude-sonnet-5-5"


@pytest.fixture
def client(fake_claude: FakeClaudeServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=fake_claude.base_url, api_key=PLACEHOLDER_API_KEY, max_retries=0
    ) as sdk:
        yield sdk


def ask(text: str = "What is a dead-letter queue?") -> list[anthropic.types.MessageParam]:
    return [{"role": "user", "content": text}]
