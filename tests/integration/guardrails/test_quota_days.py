"""The quota's days: a hold settles on the day it was held, usage items expire, each warning comes once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from claude_kit.transaction import Transaction
from claude_kit.user_quota import Allowance, UserQuota, UserQuotaExceededError
from claude_kit.worst_case import Charge
from tests.fixtures.money import Clock, quota_table


@pytest.fixture
def table() -> Iterator[Any]:
    with quota_table() as created:
        yield created


def item(table: Any, day: str) -> dict[str, Any]:
    return dict(table.get_item(Key={"user_id": "u", "day": day}).get("Item", {}))


def test_a_call_that_crosses_midnight_settles_on_the_day_it_was_held(table) -> None:
    # Given a hold taken one second before midnight UTC
    clock = Clock(datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC))
    quota = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=clock)
    hold = quota.hold("u", Charge(usd=0.5, tokens=100))
    assert hold is not None

    # When the call ends after midnight
    clock.now += timedelta(seconds=2)
    quota.settle(hold, Charge(usd=0.2, tokens=40))

    # Then the day it was held carries the spend and nothing stays held; the new day is untouched
    before = item(table, "2026-12-06")
    assert (Decimal(before["committed_usd"]), Decimal(before["spent_usd"])) == (
        Decimal("0.2"),
        Decimal("0.2"),
    )
    assert int(before["committed_tokens"]) == int(before["spent_tokens"]) == 40
    assert item(table, "2026-12-07") == {}
    # And a refusal after midnight (0.6 allowance, 0.3 held, 0.5 needed) resets at the next midnight
    tight = UserQuota(table=table, default=Allowance(usd=0.6, tokens=None), now=clock)
    tight.hold("u", Charge(usd=0.3, tokens=0))
    with pytest.raises(UserQuotaExceededError) as refused:
        tight.hold("u", Charge(usd=0.5, tokens=0))
    assert refused.value.resets_at == datetime(2026, 12, 8, tzinfo=UTC)
    assert refused.value.retry_after_seconds == 24 * 3600 - 1


def test_each_warning_level_is_reported_once_a_day(table, capsys) -> None:
    # Given a $1 allowance and calls that spend $0.3 each
    clock = Clock(datetime(2026, 12, 6, 12, tzinfo=UTC))
    quota = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=clock)

    def spend(usd: float) -> None:
        hold = quota.hold("u", Charge(usd=usd, tokens=0))
        assert hold is not None
        quota.settle(hold, Charge(usd=usd, tokens=0))

    # When the user spends 0.3, 0.6, 0.9, then 1.0 — and another quota object (another container) repeats it
    for usd in (0.3, 0.3, 0.3):
        spend(usd)
    twin = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=clock)
    hold = twin.hold("u", Charge(usd=0.1, tokens=0))
    assert hold is not None
    twin.settle(hold, Charge(usd=0.1, tokens=0))

    # Then 50 %, 80 % and 100 % were each reported exactly once
    assert warnings(capsys) == 3
    assert item(table, "2026-12-06")["warned_levels"] == {"0.5", "0.8", "1"}

    # And the next day starts over
    clock.now += timedelta(days=1)
    spend(0.6)
    assert warnings(capsys) == 1
    assert item(table, "2026-12-07")["warned_levels"] == {"0.5"}


def warnings(capsys) -> int:
    """`UserAllowanceWarnings` metrics emitted since the last look."""
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    return sum(int(blob.get("UserAllowanceWarnings", [0])[0]) for blob in blobs)


def test_usage_items_expire_thirty_five_days_after_their_day(table) -> None:
    clock = Clock(datetime(2026, 12, 6, 8, tzinfo=UTC))
    quota = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=clock)
    quota.hold("u", Charge(usd=0.1, tokens=0))
    assert int(item(table, "2026-12-06")["expires_at"]) == int(datetime(2027, 1, 10, tzinfo=UTC).timestamp())


def test_a_top_up_that_does_not_fit_is_refused_and_holds_nothing_more(table) -> None:
    quota = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=Clock(datetime.now(UTC)))
    hold = quota.hold("u", Charge(usd=0.6, tokens=0))
    assert hold is not None
    day = hold.day
    assert quota.top_up(hold, Charge(usd=1.2, tokens=0)) is None
    assert Decimal(item(table, day)["committed_usd"]) == Decimal("0.6")
    raised = quota.top_up(hold, Charge(usd=0.9, tokens=0))
    assert raised is not None
    assert raised.held.usd == pytest.approx(0.9)
    assert Decimal(item(table, day)["committed_usd"]) == Decimal("0.9")


def test_tokens_are_held_topped_up_settled_and_released_exactly(table) -> None:
    # Given a token allowance and a hold of 300 tokens
    quota = UserQuota(table=table, default=Allowance(usd=None, tokens=1000), now=Clock(datetime.now(UTC)))
    hold = quota.hold("u", Charge(usd=0.0, tokens=300))
    assert hold is not None
    day = hold.day
    # When it is topped up to 700, then settled at 650 tokens
    raised = quota.top_up(hold, Charge(usd=0.0, tokens=700))
    assert raised is not None
    assert (raised.user_id, raised.held.tokens) == ("u", 700)
    assert int(item(table, day)["committed_tokens"]) == 700
    assert quota.top_up(raised, Charge(usd=0.0, tokens=1100)) is None
    quota.settle(raised, Charge(usd=0.0, tokens=650))
    # Then the day holds exactly what was spent
    assert int(item(table, day)["committed_tokens"]) == int(item(table, day)["spent_tokens"]) == 650
    # And a released hold gives every token back
    second = quota.hold("u", Charge(usd=0.0, tokens=200))
    assert second is not None
    assert int(item(table, day)["committed_tokens"]) == 850
    quota.release(second)
    assert int(item(table, day)["committed_tokens"]) == 650
    assert int(item(table, day)["calls"]) == 1


def test_a_refusal_says_what_was_used_what_was_needed_and_counts_itself(table, capsys) -> None:
    clock = Clock(datetime(2026, 12, 6, 12, tzinfo=UTC))
    # Given $1 and 1,000 tokens a day, 0.7 USD and 900 tokens already held
    quota = UserQuota(table=table, default=Allowance(usd=1.0, tokens=1000), now=clock)
    quota.hold("u", Charge(usd=0.7, tokens=900))
    # When a call needs 0.2 USD but 200 tokens: the tokens do not fit
    with pytest.raises(UserQuotaExceededError) as tokens:
        quota.hold("u", Charge(usd=0.2, tokens=200))
    assert (tokens.value.limit, tokens.value.used, tokens.value.needed) == (
        "1000 tokens",
        "900 tokens",
        "200 tokens",
    )
    # And one that needs 0.4 USD: the dollars do not fit
    with pytest.raises(UserQuotaExceededError) as dollars:
        quota.hold("u", Charge(usd=0.4, tokens=10))
    assert (dollars.value.limit, dollars.value.used, dollars.value.needed) == (
        "1 USD",
        "0.7 USD",
        "0.400000 USD",
    )
    assert dollars.value.remaining_usd == pytest.approx(0.3)
    assert dollars.value.retry_after_seconds == 12 * 3600
    assert "0.400000 USD" in str(dollars.value)
    # And each refusal is counted in QuotaRejections
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sum(int(blob.get("QuotaRejections", [0])[0]) for blob in blobs) == 2


def test_a_call_that_fills_the_allowance_exactly_fits(table) -> None:
    quota = UserQuota(table=table, default=Allowance(usd=1.0, tokens=100), now=Clock(datetime.now(UTC)))
    assert quota.hold("u", Charge(usd=0.6, tokens=60)) is not None
    assert quota.hold("u", Charge(usd=0.4, tokens=40)) is not None
    with pytest.raises(UserQuotaExceededError):
        quota.hold("u", Charge(usd=0.000000001, tokens=0))


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def spend_in_transaction(quota: UserQuota, table: Any, usd: float) -> None:
    """A chat turn's money as the chat writes it: the hold in one transaction, the settlement in another."""
    opening = Transaction()
    hold = quota.hold_into(opening, "u", Charge(usd=usd, tokens=0))
    assert hold is not None
    opening.commit(table.meta.client)
    closing = Transaction()
    quota.settle_into(closing, hold, Charge(usd=usd, tokens=0))
    closing.commit(table.meta.client)


def test_warnings_for_settlements_written_in_transactions_come_once_and_only_when_reached(
    table, capsys
) -> None:
    # Given two containers serving the same user, each with its own view of the day ($1 allowance)
    clock = Clock(datetime(2026, 12, 6, 12, tzinfo=UTC))
    a_time, b_time = Monotonic(), Monotonic()
    a = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=clock, monotonic=a_time)
    b = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=clock, monotonic=b_time)
    spend_in_transaction(a, table, 0.1)

    # When container B spends past 50 %
    spend_in_transaction(b, table, 0.3)
    spend_in_transaction(b, table, 0.2)
    # Then 50 % is reported once, by B
    assert warnings(capsys) == 1

    # When A, whose view is older, takes the day past 80 %: its view (0.1 + 0.25) does not see it yet
    spend_in_transaction(a, table, 0.25)
    assert warnings(capsys) == 0
    # And once A's view is refreshed (with the allowance, after its 60 s), its next call reports 80 % once
    a_time.now += 61
    spend_in_transaction(a, table, 0.01)
    assert warnings(capsys) == 1
    spend_in_transaction(b, table, 0.01)
    assert warnings(capsys) == 0

    # And the stored day agrees: the spent total is exact and each level is marked once
    day = item(table, "2026-12-06")
    assert Decimal(day["spent_usd"]) == Decimal("0.87")
    assert Decimal(day["committed_usd"]) == Decimal("0.87")
    assert day["warned_levels"] == {"0.5", "0.8"}


def test_a_hold_that_does_not_fit_cancels_the_whole_transaction_with_a_429(table) -> None:
    # Given a user with $0.2 left of a $1 allowance
    quota = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=Clock(datetime.now(UTC)))
    hold = quota.hold("u", Charge(usd=0.8, tokens=0))
    assert hold is not None
    # When a transaction holds $0.3 next to another write
    transaction = Transaction()
    quota.hold_into(transaction, "u", Charge(usd=0.3, tokens=0))
    transaction.add({"Put": {"TableName": table.name, "Item": {"user_id": "u", "day": "other-write"}}})
    with pytest.raises(UserQuotaExceededError) as refused:
        transaction.commit(table.meta.client)
    # Then the refusal says what is left, and neither write happened
    assert refused.value.remaining_usd == pytest.approx(0.2)
    assert Decimal(item(table, hold.day)["committed_usd"]) == Decimal("0.8")
    assert item(table, "other-write") == {}
    assert not transaction.committed
