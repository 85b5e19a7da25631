"""Scripted replies set over HTTP answer matching requests, streamed or whole, until replaced or reset."""

from __future__ import annotations

import anthropic
import httpx2

from local.fake_claude import FakeClaudeServer
from tests.integration.fake_claude.conftest import MODEL, ask


def test_replies_posted_over_http_answer_matching_requests(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    # When a rule is posted
    rules = [{"contains": "refund", "text": "Refunds take 5 days."}]
    response = httpx2.post(f"{fake_claude.base_url}/_fake/replies", json=rules)
    assert (response.status_code, response.json()) == (200, {"scripted": 1})
    # Then a matching request gets its text, whole and streamed, with usage to match
    whole = client.messages.create(model=MODEL, max_tokens=50, messages=ask("How long is a refund?"))
    assert text_of(whole) == "Refunds take 5 days."
    assert whole.usage.output_tokens == 4
    with client.messages.stream(model=MODEL, max_tokens=50, messages=ask("A refund?")) as stream:
        assert stream.get_final_text() == "Refunds take 5 days."
    # and anything else the usual reply
    other = client.messages.create(model=MODEL, max_tokens=50, messages=ask())
    assert text_of(other).startswith("This is the fake Claude answering")
    # and after a reset, nothing is scripted
    httpx2.post(f"{fake_claude.base_url}/_fake/reset")
    again = client.messages.create(model=MODEL, max_tokens=50, messages=ask("How long is a refund?"))
    assert text_of(again).startswith("This is the fake Claude answering")


def test_rules_the_fake_cannot_read_are_refused_over_http(fake_claude: FakeClaudeServer) -> None:
    response = httpx2.post(f"{fake_claude.base_url}/_fake/replies", json=[{"contains": "x"}])
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "invalid rule: Field required at 0.text"
    assert fake_claude.config.scripted_replies == ()


def text_of(message: anthropic.types.Message) -> str:
    block = message.content[0]
    assert isinstance(block, anthropic.types.TextBlock)
    return block.text
