"""Cost arithmetic against hand-computed figures (USD per million tokens, from data/models.json)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from claude_kit.calls import Usage
from claude_kit.pricing import estimate_cost, get_price_table, load_price_table

MIXED = Usage(
    input_tokens=10_000,
    output_tokens=2_000,
    cache_creation_input_tokens=30_000,
    cache_read_input_tokens=50_000,
    cache_creation_1h_input_tokens=10_000,
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # input 10k, output 2k, 5m writes 20k, 1h writes 10k, reads 50k
        ("claude-opus-5-5", 0.01 * 4 + 0.002 * 20 + 0.02 * 5 + 0.01 * 8 + 0.05 * 0.2),
        ("claude-opus-5", 0.01 * 5 + 0.002 * 25 + 0.02 * 6.25 + 0.01 * 10 + 0.05 * 0.5),
        ("claude-opus-4-8", 0.01 * 5 + 0.002 * 25 + 0.02 * 6.25 + 0.01 * 10 + 0.05 * 0.5),
        ("claude-opus-4-7", 0.01 * 5 + 0.002 * 25 + 0.02 * 6.25 + 0.01 * 10 + 0.05 * 0.5),
        ("claude-opus-4-6", 0.01 * 5 + 0.002 * 25 + 0.02 * 6.25 + 0.01 * 10 + 0.05 * 0.5),
        ("claude-opus-4-5", 0.01 * 5 + 0.002 * 25 + 0.02 * 6.25 + 0.01 * 10 + 0.05 * 0.5),
        ("claude-sonnet-5-5", 0.01 * 2 + 0.002 * 10 + 0.02 * 2.5 + 0.01 * 4 + 0.05 * 0.1),
        ("claude-sonnet-5", 0.01 * 2 + 0.002 * 10 + 0.02 * 2.5 + 0.01 * 4 + 0.05 * 0.2),
        ("claude-sonnet-4-6", 0.01 * 3 + 0.002 * 15 + 0.02 * 3.75 + 0.01 * 6 + 0.05 * 0.3),
        ("claude-sonnet-4-5", 0.01 * 3 + 0.002 * 15 + 0.02 * 3.75 + 0.01 * 6 + 0.05 * 0.3),
        ("claude-haiku-5-5", 0.01 * 0.1 + 0.002 * 0.5 + 0.02 * 0.125 + 0.01 * 0.2 + 0.05 * 0.01),
        ("claude-haiku-4-5", 0.01 * 1 + 0.002 * 5 + 0.02 * 1.25 + 0.01 * 2 + 0.05 * 0.1),
    ],
)
def test_every_model_prices_each_kind_of_token(model, expected):
    assert estimate_cost(model, MIXED) == pytest.approx(expected)


def test_plain_input_and_output_only():
    assert estimate_cost(
        "claude-sonnet-5-5", Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    ) == pytest.approx(12.0)


def test_message_batches_cost_half():
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000)

    assert estimate_cost("claude-opus-5", usage, batch=True) == pytest.approx((5 + 0.1 * 25) / 2)


def test_haiku_5_5_prices_the_whole_call_at_the_long_context_tier_past_100k_prompt_tokens():
    at_limit = Usage(input_tokens=60_000, cache_read_input_tokens=40_000, output_tokens=1_000)
    over = Usage(input_tokens=60_001, cache_read_input_tokens=40_000, output_tokens=1_000)

    assert estimate_cost("claude-haiku-5-5", at_limit) == pytest.approx(
        0.06 * 0.1 + 0.04 * 0.01 + 0.001 * 0.5
    )
    assert estimate_cost("claude-haiku-5-5", over) == pytest.approx(
        0.060001 * 0.5 + 0.04 * 0.05 + 0.001 * 2.5
    )


def test_cache_writes_without_a_ttl_split_are_priced_as_5_minute_writes():
    usage = Usage(cache_creation_input_tokens=1_000_000)

    assert estimate_cost("claude-sonnet-4-6", usage) == pytest.approx(3.75)


def test_dated_snapshots_cost_what_their_alias_costs():
    assert estimate_cost("claude-sonnet-4-5-20250929", Usage(input_tokens=1_000_000)) == pytest.approx(3.0)


def test_an_unknown_model_has_no_cost_and_is_warned_about_once(caplog):
    assert estimate_cost("claude-mystery-1", Usage(input_tokens=5)) is None
    assert estimate_cost("claude-mystery-1", Usage(input_tokens=5)) is None

    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert [record.model for record in warnings] == ["claude-mystery-1"]


def test_overrides_from_the_environment_correct_one_price_or_add_a_model(monkeypatch):
    overrides = {
        "claude-sonnet-5-5": {"cache_read": 0.2},
        "claude-custom": {"input": 1, "output": 2, "cache_write_5m": 3, "cache_write_1h": 4, "cache_read": 5},
    }
    monkeypatch.setenv("KIT_PRICE_OVERRIDES", json.dumps(overrides))

    table = get_price_table()

    assert estimate_cost("claude-sonnet-5-5", Usage(cache_read_input_tokens=1_000_000)) == pytest.approx(0.2)
    assert estimate_cost("claude-sonnet-5-5", Usage(input_tokens=1_000_000)) == pytest.approx(2.0)
    assert table.cost("claude-custom", Usage(output_tokens=1_000_000)) == pytest.approx(2.0)


def test_an_override_with_a_typo_fails_loudly():
    with pytest.raises(ValidationError):
        load_price_table({"claude-sonnet-5-5": {"inptu": 1.0}})


def test_minimum_cacheable_lengths_come_from_the_data_file():
    table = load_price_table()

    assert table.min_cacheable_tokens("claude-haiku-4-5") == 4096
    assert table.min_cacheable_tokens("claude-opus-5") == 512
    assert table.min_cacheable_tokens("claude-sonnet-5-5") == table.default_min_cacheable_tokens
    assert table.min_cacheable_tokens("claude-unknown") == table.default_min_cacheable_tokens


def test_a_cost_is_rounded_to_the_nano_dollar():
    # Given a price with more digits than a nano-dollar can hold for one token
    table = load_price_table({"claude-sonnet-5-5": {"input": 1.23456789}})

    # Then one token costs $0.000001235 (1.23456789e-6 rounded to 9 places)
    assert estimate_cost("claude-sonnet-5-5", Usage(input_tokens=1), table=table) == pytest.approx(
        1.235e-6, rel=0, abs=1e-15
    )


def test_a_snapshot_with_its_own_price_is_not_priced_as_its_alias():
    # Given an environment that prices one dated snapshot apart from its alias
    snapshot = "claude-sonnet-4-5-20250929"
    table = load_price_table(
        {snapshot: {"input": 7, "output": 8, "cache_write_5m": 9, "cache_write_1h": 10, "cache_read": 11}}
    )

    # Then that snapshot costs its own price, and its alias keeps the data file's
    assert table.cost(snapshot, Usage(input_tokens=1_000_000)) == pytest.approx(7.0)
    assert table.cost("claude-sonnet-4-5", Usage(input_tokens=1_000_000)) == pytest.approx(3.0)
