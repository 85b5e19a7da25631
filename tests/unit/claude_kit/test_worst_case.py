"""The worst case a call holds: every input token at its dearest rate, the output cap, the dearest model."""

from __future__ import annotations

import pytest

from claude_kit.calls import ClaudeRequest, Usage
from claude_kit.pricing import load_price_table
from claude_kit.worst_case import Charge, input_tokens_bound, output_tokens_bound, worst_case_attempt

PRICES = load_price_table()


def request(text: str = "x" * 4000, *, max_tokens: int = 1000, **params: object) -> ClaudeRequest:
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
