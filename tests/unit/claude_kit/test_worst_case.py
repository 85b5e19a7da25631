"""The worst case a call holds: every input token at its dearest rate, the output cap, the dearest model."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from claude_kit.calls import ClaudeRequest, Usage
from claude_kit.pricing import load_price_table
from claude_kit.worst_case import Charge, input_tokens_bound, output_tokens_bound, worst_case_attempt

PRICES = load_price_table()


def request(
    text: str | list[dict[str, Any]] = "x" * 4000, *, max_tokens: int = 1000, **params: object
) -> ClaudeRequest:
    return ClaudeRequest(
        model="claude-sonnet-5-5",
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": text}],
        params=dict(params),
    )


def test_input_is_bounded_at_half_a_token_per_utf8_byte() -> None:
    # 4,000 ASCII bytes → 2,000 tokens, plus 4 for the message
    assert input_tokens_bound(request("x" * 4000)) == 2004
    # CJK: 3 bytes a character, so 1,000 characters bound 1,500 tokens
    assert input_tokens_bound(request("語" * 1000)) == 1504


def test_tool_definitions_and_images_count_as_input() -> None:
    tools = [{"name": "lookup", "description": "d" * 1000, "input_schema": {"type": "object"}}]
    plain = input_tokens_bound(request("hi"))
    with_tools = input_tokens_bound(request("hi", tools=tools))
    assert with_tools - plain > 500
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 90_000}}
    with_image = ClaudeRequest(
        model="claude-sonnet-5-5", max_tokens=10, messages=[{"role": "user", "content": [image]}]
    )
    assert input_tokens_bound(with_image) == 1600 + 4


def test_output_is_the_larger_of_max_tokens_and_the_thinking_budget() -> None:
    assert output_tokens_bound(request(max_tokens=1000)) == 1000
    thinking = {"type": "enabled", "budget_tokens": 20_000}
    assert output_tokens_bound(request(max_tokens=16_000, thinking=thinking)) == 20_000


def test_with_caching_the_input_is_priced_as_a_one_hour_cache_write() -> None:
    # Given a request of 2,004 bounded input tokens and 1,000 output tokens
    plain = worst_case_attempt(request(), models=["claude-sonnet-5-5"], prices=PRICES, caching=False)
    cached = worst_case_attempt(request(), models=["claude-sonnet-5-5"], prices=PRICES, caching=True)
    # Then without caching it is input at the input rate; with caching at the dearest cache-write rate
    rates = PRICES.models["claude-sonnet-5-5"]
    assert plain.usd == pytest.approx((2004 * rates.input + 1000 * rates.output) / 1e6)
    assert cached.usd == pytest.approx((2004 * rates.cache_write_1h + 1000 * rates.output) / 1e6)
    assert cached.tokens == plain.tokens == 3004


def test_a_prompt_that_may_cross_the_long_context_tier_is_priced_at_that_tier() -> None:
    # Given Haiku 5.5, whose prompts above 100,000 tokens cost five times as much
    long = request("y" * 220_000, max_tokens=100)
    worst = worst_case_attempt(long, models=["claude-haiku-5-5"], prices=PRICES, caching=False)
    tier = PRICES.models["claude-haiku-5-5"].long_context
    assert tier is not None
    assert worst.usd == pytest.approx((110_004 * tier.input + 100 * tier.output) / 1e6)


def test_the_dearest_model_of_primary_and_fallback_sets_the_worst_case() -> None:
    both = worst_case_attempt(
        request(), models=["claude-haiku-5-5", "claude-opus-5-5"], prices=PRICES, caching=False
    )
    opus = PRICES.cost("claude-opus-5-5", Usage(input_tokens=2004, output_tokens=1000))
    assert both.usd == pytest.approx(opus)


def test_a_model_without_a_price_is_held_at_the_dearest_known_price() -> None:
    unknown = worst_case_attempt(request(), models=["claude-none"], prices=PRICES, caching=False)
    dearest = max(
        PRICES.cost(model, Usage(input_tokens=2004, output_tokens=1000)) or 0 for model in PRICES.models
    )
    assert dearest > 0
    assert unknown.usd == pytest.approx(dearest)


def test_charges_add_and_multiply() -> None:
    assert Charge(0.5, 10) + Charge(0.25, 5) == Charge(0.75, 15)
    assert Charge(0.5, 10) * 3 == Charge(1.5, 30)


def test_the_system_prompt_counts_as_input() -> None:
    with_system = ClaudeRequest(
        model="claude-sonnet-5-5",
        max_tokens=10,
        messages=[{"role": "user", "content": "hi"}],
        system="s" * 1000,
    )

    assert input_tokens_bound(with_system) == input_tokens_bound(request("hi")) + 500


@pytest.mark.parametrize(
    ("block", "tokens"),
    [
        # text and tool results count their text only: 1,000 bytes bound 500 tokens
        ({"type": "text", "text": "t" * 1000}, 500),
        ({"type": "tool_result", "tool_use_id": "t1", "content": "r" * 1000}, 500),
        (
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "r" * 1000}]},
            500,
        ),
    ],
)
def test_text_and_tool_result_blocks_are_bounded_by_their_text(block: dict[str, Any], tokens: int) -> None:
    assert input_tokens_bound(request([block])) == tokens + 4


def test_values_json_cannot_encode_are_bounded_by_their_text() -> None:
    # Given a tool input holding a Decimal (as DynamoDB returns numbers), which json cannot encode
    block = {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"n": Decimal("12.5")}}
    call = request([block])

    # Then it is bounded like its text, and the call is still priced
    encoded = '{"type":"tool_use","id":"t1","name":"lookup","input":{"n":"12.5"}}'
    assert input_tokens_bound(call) == math.ceil(len(encoded) / 2) + 4
    worst = worst_case_attempt(call, models=["claude-sonnet-5-5"], prices=PRICES, caching=False)
    assert worst.usd > 0


@pytest.mark.parametrize(
    "marked",
    [
        {
            "system": [{"type": "text", "text": "x" * 4000, "cache_control": {"type": "ephemeral"}}],
            "text": "",
        },
        {"text": [{"type": "text", "text": "x" * 4000, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
        {
            "tools": [
                {
                    "name": "lookup",
                    "description": "x" * 3900,
                    "input_schema": {"type": "object"},
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            "text": "",
        },
    ],
    ids=["system", "message", "tools"],
)
def test_a_cache_control_mark_prices_the_input_as_a_cache_write_even_with_caching_off(
    marked: dict[str, Any],
) -> None:
    # Given a request that marks a cache breakpoint itself, in its system prompt, a message or its tools
    call = ClaudeRequest(
        model="claude-sonnet-5-5",
        max_tokens=1000,
        messages=[{"role": "user", "content": marked["text"]}],
        system=marked.get("system"),
        params={"tools": marked["tools"]} if "tools" in marked else {},
    )

    worst = worst_case_attempt(call, models=["claude-sonnet-5-5"], prices=PRICES, caching=False)

    # Then its input is held at the 1-hour cache-write rate, the dearest one
    rates = PRICES.models["claude-sonnet-5-5"]
    inputs = input_tokens_bound(call)
    assert worst.usd == pytest.approx((inputs * rates.cache_write_1h + 1000 * rates.output) / 1e6)


def test_with_caching_plain_input_still_counts_where_it_is_the_dearest() -> None:
    # Given prices (an environment's override) where plain input costs more than a cache write
    prices = load_price_table(
        {"claude-sonnet-5-5": {"input": 50.0, "cache_write_5m": 1.0, "cache_write_1h": 2.0}}
    )

    worst = worst_case_attempt(request(), models=["claude-sonnet-5-5"], prices=prices, caching=True)

    # Then the call is held at the plain-input price: the prompt may be too short to be cached at all
    assert worst.usd == pytest.approx((2004 * 50.0 + 1000 * prices.models["claude-sonnet-5-5"].output) / 1e6)


def test_with_no_model_to_price_only_the_tokens_are_held() -> None:
    worst = worst_case_attempt(request(), models=[], prices=PRICES, caching=False)

    assert worst == Charge(usd=0.0, tokens=3004)
