"""The fake's prompt cache splits input tokens the way Anthropic bills them: cache writes, reads, the rest."""

from __future__ import annotations

from typing import Any

from local.fake_claude.prompt_cache import PromptCache, estimate_tokens, prompt_blocks
from local.fake_claude.protocol import CountTokensRequest

MODEL = "claude-sonnet-5-5"
LONG_SYSTEM = "You are a careful assistant. " * 200  # 5,800 characters: 1,450 estimated tokens


def _request(*, system_ttl: str | None = "5m", turns: int = 1, **changes: Any) -> CountTokensRequest:
    system: dict[str, Any] = {"type": "text", "text": LONG_SYSTEM}
    if system_ttl is not None:
        system["cache_control"] = {"type": "ephemeral", "ttl": system_ttl}
    messages: list[dict[str, Any]] = []
    for turn in range(turns):
        messages += [
            {"role": "user", "content": f"Question {turn}?"},
            {"role": "assistant", "content": "Answer."},
        ]
    body: dict[str, Any] = {"model": MODEL, "system": [system], "messages": [*messages[:-1]], **changes}
    return CountTokensRequest.model_validate(body)


def _use(cache: PromptCache, request: CountTokensRequest, now: float = 0.0) -> Any:
    return cache.use(request.model, prompt_blocks(request), now)


def test_tokens_are_estimated_at_four_characters_each_and_never_zero() -> None:
    assert estimate_tokens("") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_a_first_request_writes_its_prefix_and_a_repeat_reads_it() -> None:
    # Given an empty cache and a request with a breakpoint after a long system prompt
    cache = PromptCache(min_tokens=1024)
    request = _request()
    # When it is sent twice
    first = _use(cache, request)
    second = _use(cache, request, now=60)
    # Then the first writes the system prompt, the second reads it; the question is uncached both times
    assert first.ephemeral_5m_input_tokens == estimate_tokens(LONG_SYSTEM)
    assert first.cache_read_input_tokens == 0
    assert second.cache_read_input_tokens == estimate_tokens(LONG_SYSTEM)
    assert second.cache_creation_input_tokens == 0
    assert first.input_tokens == second.input_tokens == estimate_tokens("Question 0?")
    assert first.total_input_tokens == second.total_input_tokens


def test_a_prefix_shorter_than_the_minimum_is_not_cached() -> None:
    # Given a cache whose minimum is above the prompt's length
    cache = PromptCache(min_tokens=10_000)
    # When the same request is sent twice
    _use(cache, _request())
    second = _use(cache, _request())
    # Then nothing is read or written
    assert (second.cache_read_input_tokens, second.cache_creation_input_tokens) == (0, 0)
    assert second.input_tokens == second.total_input_tokens


def test_an_entry_expires_after_its_ttl_and_a_read_renews_it() -> None:
    # Given a prefix written at t=0 with the 5-minute TTL
    cache = PromptCache(min_tokens=1024)
    _use(cache, _request(), now=0)
    # When it is read at 4 minutes, then again 4 minutes after that read, then 6 minutes after that
    at_4 = _use(cache, _request(), now=240)
    at_8 = _use(cache, _request(), now=480)
    at_14 = _use(cache, _request(), now=840)
    # Then the first two hit (each read renews the TTL) and the last, past the TTL, writes again
    assert at_4.cache_read_input_tokens > 0
    assert at_8.cache_read_input_tokens > 0
    assert at_14.cache_read_input_tokens == 0
    assert at_14.ephemeral_5m_input_tokens > 0


def test_a_one_hour_breakpoint_is_billed_as_a_one_hour_write() -> None:
    cache = PromptCache(min_tokens=1024)
    use = _use(cache, _request(system_ttl="1h"))
    assert use.ephemeral_1h_input_tokens == estimate_tokens(LONG_SYSTEM)
    assert use.ephemeral_5m_input_tokens == 0


def test_no_breakpoint_means_no_caching() -> None:
    cache = PromptCache(min_tokens=1024)
    _use(cache, _request(system_ttl=None))
    second = _use(cache, _request(system_ttl=None))
    assert second.cache_read_input_tokens == 0
    assert second.cache_creation_input_tokens == 0


def test_a_breakpoint_moved_forward_reads_the_previous_turns_prefix() -> None:
    # Given turn 1 cached up to its last message (top-level cache_control marks the last block)
    cache = PromptCache(min_tokens=1024)
    turn_1 = _request(system_ttl=None, cache_control={"type": "ephemeral"})
    written = _use(cache, turn_1)
    # When turn 2 extends the conversation and moves the breakpoint to its own last message
    turn_2 = _request(system_ttl=None, turns=2, cache_control={"type": "ephemeral"})
    second = _use(cache, turn_2)
    # Then turn 2 reads turn 1's whole prompt and writes only what was added
    assert second.cache_read_input_tokens == written.cache_creation_input_tokens
    added = sum(block.tokens for block in prompt_blocks(turn_2)) - written.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == added


def test_the_cache_is_per_model() -> None:
    cache = PromptCache(min_tokens=1024)
    _use(cache, _request())
    other = _use(cache, _request(model="claude-haiku-5-5"))
    assert other.cache_read_input_tokens == 0


def test_tools_are_part_of_the_cached_prefix() -> None:
    # Given a cached request, and the same request with a tool added in front of the system prompt
    cache = PromptCache(min_tokens=1024)
    _use(cache, _request())
    tool = {"name": "lookup", "description": "Find a thing", "input_schema": {"type": "object"}}
    # When the request with the tool is sent
    with_tool = _use(cache, _request(tools=[tool]))
    # Then the changed prefix misses the cache
    assert with_tool.cache_read_input_tokens == 0
    assert with_tool.cache_creation_input_tokens > estimate_tokens(LONG_SYSTEM)
