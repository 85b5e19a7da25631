"""Reported spend is the report's tokens for the environment's key, priced by tier; drift compares it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from claude_kit.calls import Usage
from claude_kit.pricing import load_price_table
from reconciliation.admin_api import UsageRow
from reconciliation.reconcile import Reconciliation, ReportedSpend, reported_spend

KEY = "apikey_01Env"
AT = datetime(2026, 12, 6, tzinfo=UTC)
PRICES = load_price_table()
MILLION = Usage(input_tokens=1_000_000, output_tokens=1_000_000)


def row(model: str | None, tier: str = "standard", key: str | None = KEY, usage: Usage = MILLION) -> UsageRow:
    return UsageRow(starting_at=AT, api_key_id=key, model=model, service_tier=tier, usage=usage)


def test_only_the_environments_key_counts_and_batch_is_discounted() -> None:
    sonnet = PRICES.models["claude-sonnet-5-5"]
    spend = reported_spend(
        [row("claude-sonnet-5-5"), row("claude-sonnet-5-5", "batch"), row("claude-sonnet-5-5", key="other")],
        PRICES,
        KEY,
    )
    full = sonnet.input + sonnet.output
    assert spend.usd == pytest.approx(full + full * PRICES.batch_discount)
    assert spend.usage.input_tokens == 2_000_000


def test_summed_long_prompts_are_not_priced_at_the_long_context_tier() -> None:
    # Two million prompt tokens in one bucket are many calls, not one long prompt
    haiku = PRICES.models["claude-haiku-5-5"]
    spend = reported_spend([row("claude-haiku-5-5")], PRICES, KEY)
    assert spend.usd == pytest.approx(haiku.input + haiku.output)


def test_an_unpriced_model_is_named_and_its_tokens_still_counted() -> None:
    spend = reported_spend([row("claude-future-9")], PRICES, KEY)
    assert spend.unpriced_models == ("claude-future-9",)
    assert spend.usd == 0
    assert spend.usage.output_tokens == 1_000_000


@pytest.mark.parametrize(
    ("estimated", "reported", "drift"),
    [(10.0, 10.0, 0.0), (8.0, 10.0, 20.0), (12.0, 10.0, 20.0), (0.0, 0.0, 0.0), (1.0, 0.0, 100.0)],
)
def test_drift_is_the_gap_as_a_share_of_the_bill(estimated: float, reported: float, drift: float) -> None:
    recon = Reconciliation(
        start=AT, end=AT, estimated_usd=estimated, reported=ReportedSpend(reported, Usage())
    )
    assert recon.drift_percent == pytest.approx(drift)
