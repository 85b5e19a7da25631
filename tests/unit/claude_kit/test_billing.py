"""A call's bill per model: each billed attempt at its own model's price, adding up to the known cost."""

from __future__ import annotations

import pytest

from claude_kit.billing import CallBill
from claude_kit.calls import Usage
from claude_kit.pricing import load_price_table
from claude_kit.worst_case import Charge

PRICES = load_price_table()
WORST = Charge(usd=0.75, tokens=5000)


def test_a_call_that_fell_back_is_billed_on_each_model_it_used() -> None:
    # Given a stream cut on the primary model after its input was billed, then an answer from the fallback
    bill = CallBill()
    bill.billed("claude-sonnet-5-5", Usage(input_tokens=1000, output_tokens=20), output_estimated=True)
    bill.billed("claude-haiku-5-5", Usage(input_tokens=1000, output_tokens=300, cache_read_input_tokens=50))

    # When it is split by model
    models = bill.by_model(PRICES, WORST)

    # Then each model carries its own attempts at its own price, and together they are the call's cost
    sonnet = PRICES.cost("claude-sonnet-5-5", Usage(input_tokens=1000, output_tokens=20))
    haiku = PRICES.cost(
        "claude-haiku-5-5", Usage(input_tokens=1000, output_tokens=300, cache_read_input_tokens=50)
    )
    assert models == {
        "claude-sonnet-5-5": Charge(usd=pytest.approx(sonnet), tokens=1020),  # type: ignore[arg-type]
        "claude-haiku-5-5": Charge(usd=pytest.approx(haiku), tokens=1350),  # type: ignore[arg-type]
    }
    assert sum(charge.usd for charge in models.values()) == pytest.approx(bill.cost(PRICES))
    assert bill.charge(PRICES, WORST).usd == pytest.approx(bill.cost(PRICES))


def test_an_unpriced_model_is_charged_at_its_worst_case_and_ambiguous_attempts_stay_out_of_the_split() -> (
    None
):
    bill = CallBill()
    bill.billed("claude-unreleased-9", Usage(input_tokens=10, output_tokens=5))
    bill.ambiguous(TimeoutError("read timed out"))
    assert bill.by_model(PRICES, WORST) == {"claude-unreleased-9": Charge(usd=WORST.usd, tokens=15)}
    assert bill.charge(PRICES, WORST) == Charge(usd=WORST.usd, tokens=15) + WORST
