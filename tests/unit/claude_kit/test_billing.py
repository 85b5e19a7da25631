"""A call's bill: each billed attempt at its own model's price (also split by model), ambiguous attempts at
their worst case."""

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


def test_usage_sums_every_kind_of_token_over_the_attempts() -> None:
    # Given two billed attempts, one with 1-hour cache writes
    bill = CallBill()
    bill.billed("claude-sonnet-5-5", Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=7))
    bill.billed(
        "claude-sonnet-5-5",
        Usage(
            input_tokens=20,
            output_tokens=1,
            cache_creation_input_tokens=300,
            cache_creation_1h_input_tokens=100,
        ),
    )

    # Then the call's usage is their field-by-field sum
    assert bill.usage() == Usage(
        input_tokens=30,
        output_tokens=6,
        cache_creation_input_tokens=300,
        cache_read_input_tokens=7,
        cache_creation_1h_input_tokens=100,
    )


def test_each_attempt_is_priced_at_its_own_model() -> None:
    # Given an attempt on the primary and one on the fallback
    first = Usage(input_tokens=1_000, output_tokens=200)
    second = Usage(input_tokens=1_000, output_tokens=300, cache_creation_input_tokens=500)
    bill = CallBill()
    bill.billed("claude-opus-5-5", first)
    bill.billed("claude-haiku-5-5", second)

    # Then the call costs the sum of both attempts' prices from the table, full price or batch price
    expected = (PRICES.cost("claude-opus-5-5", first) or 0) + (PRICES.cost("claude-haiku-5-5", second) or 0)
    assert bill.cost(PRICES) == pytest.approx(expected, abs=1e-9)
    assert bill.cost(PRICES, batch=True) == pytest.approx(expected * PRICES.batch_discount, abs=1e-9)


def test_the_charge_uses_the_price_table_it_is_given() -> None:
    # Given an environment whose prices differ from the data file's
    table = load_price_table({"claude-sonnet-5-5": {"input": 100.0, "output": 200.0}})
    bill = CallBill()
    bill.billed("claude-sonnet-5-5", Usage(input_tokens=10_000, output_tokens=1_000))

    charge = bill.charge(table, WORST)

    # Then the known cost is priced with that table: 10k x $100/M + 1k x $200/M
    assert charge.usd == pytest.approx(10_000 * 100 / 1e6 + 1_000 * 200 / 1e6)
    assert charge.tokens == 11_000


@pytest.mark.parametrize("attempts", [1, 2, 3])
def test_attempts_on_a_model_without_a_price_are_charged_at_the_worst_case_each(attempts: int) -> None:
    bill = CallBill()
    for _ in range(attempts):
        bill.billed("claude-unpriced", Usage(input_tokens=100, output_tokens=10))

    charge = bill.charge(PRICES, WORST)

    assert bill.cost(PRICES) is None
    assert charge.usd == pytest.approx(WORST.usd * attempts)
    assert charge.tokens == 110 * attempts


def test_ambiguous_attempts_add_their_worst_case_to_the_known_cost() -> None:
    # Given one billed attempt and two that timed out with no answer
    usage = Usage(input_tokens=1_000, output_tokens=100)
    bill = CallBill()
    bill.billed("claude-sonnet-5-5", usage)
    timeouts = [TimeoutError("read"), TimeoutError("read")]
    for failure in timeouts:
        bill.ambiguous(failure)

    charge = bill.charge(PRICES, WORST)

    assert bill.ambiguous_attempts == 2
    assert all(bill.was_ambiguous(failure) for failure in timeouts)
    assert not bill.was_ambiguous(TimeoutError("read"))
    assert bill.possibly_billed(WORST) == WORST * 2
    assert charge.usd == pytest.approx((PRICES.cost("claude-sonnet-5-5", usage) or 0) + 2 * WORST.usd)
    assert charge.tokens == 1_100 + 2 * WORST.tokens


def test_estimated_output_counts_only_streams_cut_before_their_usage() -> None:
    bill = CallBill()
    bill.billed("claude-sonnet-5-5", Usage(input_tokens=5, output_tokens=40), output_estimated=True)
    bill.billed("claude-sonnet-5-5", Usage(input_tokens=5, output_tokens=60))

    assert bill.estimated_output_tokens == 40


def test_attempts_on_the_same_model_add_up_at_the_given_prices() -> None:
    # Given an environment's own price for the model, and two billed attempts on it
    table = load_price_table({"claude-sonnet-5-5": {"input": 100.0, "output": 200.0}})
    bill = CallBill()
    bill.billed("claude-sonnet-5-5", Usage(input_tokens=1_000, output_tokens=100))
    bill.billed("claude-sonnet-5-5", Usage(input_tokens=2_000, output_tokens=300))

    # Then the model carries both, priced with that table: 3k x $100/M + 400 x $200/M
    (charge,) = bill.by_model(table, WORST).values()
    assert charge.usd == pytest.approx(3_000 * 100 / 1e6 + 400 * 200 / 1e6)
    assert charge.tokens == 3_400
