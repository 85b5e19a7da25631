"""fit_context: last N turns within a token budget, oldest dropped first, never an invalid conversation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from claude_kit.context_window import SystemPrompt, estimate_tokens, fit_context


def turns(count: int, size: int = 10) -> list[dict[str, Any]]:
    return [
        {"role": "user" if index % 2 == 0 else "assistant", "content": f"{index:03d} " + "x" * size}
        for index in range(count)
    ]


def tool_exchange(call_id: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": call_id, "name": "lookup", "input": {"q": "x" * 200}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "y" * 200}]},
    ]


def test_a_conversation_within_limits_is_sent_whole():
    messages = turns(5)

    window = fit_context("Be kind.", messages, max_turns=10, max_tokens=10_000)

    assert window.messages == messages
    assert (window.dropped_turns, window.dropped_tokens, window.fits) == (0, 0, True)
    assert window.system == "Be kind."


def test_the_turn_limit_keeps_the_newest_turns_starting_with_a_user_turn():
    window = fit_context(None, turns(9), max_turns=4, max_tokens=10_000)

    # 4 newest would start with an assistant turn: the window starts at the next user turn instead
    assert [message["content"][:3] for message in window.messages] == ["006", "007", "008"]
    assert window.messages[0]["role"] == "user"
    assert window.dropped_turns == 6


def test_the_token_budget_drops_oldest_turns_first_and_reports_the_tokens():
    messages = turns(10, size=400)  # ≈ 120 tokens each
    full = estimate_tokens(None, messages)

    window = fit_context(None, messages, max_turns=100, max_tokens=450)

    assert window.tokens <= 450
    assert window.messages == messages[-len(window.messages) :]
    assert window.messages[0]["role"] == "user"
    assert window.dropped_tokens == full - window.tokens
    assert window.fits is True


def test_the_system_prompt_and_newest_user_turn_survive_even_over_budget():
    messages = [*turns(4), {"role": "user", "content": "z" * 10_000}]

    window = fit_context("S" * 1000, messages, max_turns=40, max_tokens=100)

    assert window.messages == [messages[-1]]
    assert window.system == "S" * 1000
    assert window.fits is False


def test_a_tool_use_is_never_separated_from_its_tool_result():
    # Given user → tool_use → tool_result → tool_use → tool_result, the last turns all part of one tool loop
    messages = [{"role": "user", "content": "Look things up"}, *tool_exchange("t1"), *tool_exchange("t2")]

    window = fit_context(None, messages, max_turns=2, max_tokens=100_000)

    # Then no cut lands between a tool_use and its result: the whole loop from its user turn is kept
    assert window.messages == messages
    assert window.fits is False


def test_a_window_never_starts_with_a_tool_result():
    messages = [
        *turns(2),
        {"role": "user", "content": "Question"},
        *tool_exchange("t1"),
        {"role": "assistant", "content": "Done"},
        {"role": "user", "content": "Thanks"},
    ]

    window = fit_context(None, messages, max_turns=5, max_tokens=100_000)

    first = window.messages[0]
    assert first["role"] == "user"
    assert isinstance(first["content"], str)
    assert [message["content"] for message in window.messages][:1] == ["Question"]


def test_a_leading_assistant_turn_is_dropped_for_valid_alternation():
    messages = [{"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Hi"}]

    window = fit_context(None, messages, max_turns=10, max_tokens=10_000)

    assert window.messages == [messages[1]]
    assert window.dropped_turns == 1


def test_an_api_counter_is_used_a_logarithmic_number_of_times():
    calls: list[int] = []

    def counter(system, messages) -> int:
        calls.append(len(messages))
        return 100 * len(messages)

    window = fit_context(None, turns(201), max_turns=1000, max_tokens=1_000, counter=counter)
    assert len(window.messages) == 9
    assert len(calls) <= 12


@pytest.mark.parametrize(
    ("content", "minimum", "maximum"),
    [
        ("", 0, 0),
        ("a" * 350, 100, 100),
        ([{"type": "image", "source": {"type": "base64", "data": "..."}}], 1600, 1600),
        ([{"type": "tool_result", "tool_use_id": "t", "content": "b" * 35}], 10, 10),
    ],
)
def test_the_local_estimate_counts_text_images_and_tool_results(content, minimum, maximum):
    assert minimum <= estimate_tokens(None, [{"role": "user", "content": content}]) - 4 <= maximum


@pytest.mark.parametrize(
    ("block", "characters"),
    [
        # a text block counts its text only
        ({"type": "text", "text": "t" * 350}, 350),
        # any other block (a tool_use) counts its compact JSON
        (
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": "x" * 300}},
            len('{"type":"tool_use","id":"t1","name":"lookup","input":{"q":""}}') + 300,
        ),
    ],
)
def test_a_block_is_estimated_at_one_token_per_3_5_characters(block: dict[str, Any], characters: int) -> None:
    assert (
        estimate_tokens(None, [{"role": "assistant", "content": [block]}]) == math.ceil(characters / 3.5) + 4
    )


def test_a_window_exactly_at_both_limits_fits_whole() -> None:
    # Given a conversation whose estimate is exactly the token budget and whose length is the turn limit
    messages = turns(4)
    tokens = estimate_tokens(None, messages)

    window = fit_context(None, messages, max_turns=4, max_tokens=tokens)

    assert (window.messages, window.tokens, window.fits) == (messages, tokens, True)


def test_a_shorter_window_exactly_at_the_budget_is_the_one_kept() -> None:
    # Given 8 turns of 100 tokens each (a counter that says so) and a budget of exactly 4 turns
    def counter(system: SystemPrompt, messages: Sequence[dict[str, Any]]) -> int:
        return 100 * len(messages)

    window = fit_context(None, turns(8), max_turns=100, max_tokens=400, counter=counter)

    # Then the window is the 4 newest turns, at the budget to the token
    assert (window.dropped_turns, window.tokens, window.dropped_tokens, window.fits) == (4, 400, 400, True)


@pytest.mark.parametrize("budget_slack", [0, 1])
def test_a_conversation_that_fits_is_counted_once(budget_slack: int) -> None:
    # Given an API counter (each call is a request) and a conversation within both limits
    calls: list[int] = []

    def counter(system: SystemPrompt, messages: Sequence[dict[str, Any]]) -> int:
        calls.append(len(messages))
        return 100 * len(messages)

    fit_context(None, turns(9), max_turns=9, max_tokens=900 + budget_slack, counter=counter)

    # Then the whole conversation is counted once, and nothing else
    assert calls == [9]


def test_past_the_turn_limit_only_the_newest_user_turn_is_kept() -> None:
    # Given a conversation whose newest plain user turn is followed by a tool loop longer than the turn limit
    messages = [*turns(2), {"role": "user", "content": "Look it up"}, *tool_exchange("t1")]

    window = fit_context(None, messages, max_turns=1, max_tokens=100_000)

    # Then the window starts at that newest user turn, not at an older one, and is reported as not fitting
    assert (window.dropped_turns, window.fits) == (2, False)
    assert window.messages == messages[2:]


def test_a_conversation_without_a_plain_user_turn_is_kept_whole() -> None:
    # Given a continuation that starts with a tool result (no cut point)
    messages = [tool_exchange("t1")[1], {"role": "assistant", "content": "Found it."}]

    window = fit_context(None, messages, max_turns=10, max_tokens=100_000)

    assert (window.messages, window.dropped_turns, window.fits) == (messages, 0, True)
