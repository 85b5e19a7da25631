"""Budget warnings: each threshold of each budget notified once per period, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciliation.warnings import BudgetWarnings


class MemorySent:
    def __init__(self) -> None:
        self.value: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        return dict(self.value)

    def save(self, value: dict[str, Any]) -> None:
        self.value = dict(value)


@pytest.fixture
def sent() -> MemorySent:
    return MemorySent()


def warnings(sent: MemorySent, notes: list[str], percents: tuple[int, ...] = (50, 80, 100)) -> BudgetWarnings:
    return BudgetWarnings(
        env_name="dev",
        percents=percents,
        daily_usd=10.0,
        monthly_usd=200.0,
        sent=sent,
        notify=lambda subject, _body: notes.append(subject),
    )


DAY = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def test_each_threshold_is_sent_once_per_day_as_spend_grows(sent: MemorySent) -> None:
    notes: list[str] = []
    brake = warnings(sent, notes)
    # Given spend growing through the day, checked every hour (twice at some levels)
    for hour, spent in enumerate((2.0, 5.0, 5.5, 7.9, 8.0, 8.5, 10.0, 12.0)):
        brake.check(spent_today=spent, spent_month=0.0, now=DAY + timedelta(hours=hour))
    # Then 50, 80 and 100 % of the daily budget each went out exactly once, in order
    assert notes == [
        "claude-kit dev: 50 % of the daily Claude budget used",
        "claude-kit dev: 80 % of the daily Claude budget used",
        "claude-kit dev: 100 % of the daily Claude budget used",
    ]


def test_a_new_day_starts_over_but_the_month_does_not(sent: MemorySent) -> None:
    notes: list[str] = []
    brake = warnings(sent, notes)
    # Given 50 % of both budgets reached today
    brake.check(spent_today=5.0, spent_month=100.0, now=DAY)
    assert len(notes) == 2
    # When tomorrow reaches 50 % of its daily budget while the month is still at 50 %
    brake.check(spent_today=5.0, spent_month=100.0, now=DAY + timedelta(days=1))
    # Then only the daily warning is sent again
    assert notes[2:] == ["claude-kit dev: 50 % of the daily Claude budget used"]
    # And a new month sends the monthly one again
    brake.check(spent_today=0.0, spent_month=100.0, now=datetime(2027, 1, 1, 1, tzinfo=UTC))
    assert notes[3:] == ["claude-kit dev: 50 % of the monthly Claude budget used"]


def test_crossing_several_thresholds_at_once_sends_one_warning_for_the_highest(sent: MemorySent) -> None:
    notes: list[str] = []
    brake = warnings(sent, notes)
    brake.check(spent_today=0.0, spent_month=170.0, now=DAY)
    brake.check(spent_today=0.0, spent_month=175.0, now=DAY + timedelta(hours=1))
    assert notes == ["claude-kit dev: 80 % of the monthly Claude budget used"]


def test_thresholds_are_configurable(sent: MemorySent) -> None:
    notes: list[str] = []
    brake = warnings(sent, notes, percents=(25, 90))
    brake.check(spent_today=3.0, spent_month=0.0, now=DAY)
    brake.check(spent_today=9.0, spent_month=0.0, now=DAY)
    assert notes == [
        "claude-kit dev: 25 % of the daily Claude budget used",
        "claude-kit dev: 90 % of the daily Claude budget used",
    ]
