"""The guard acts only on notification shapes it positively recognises."""

from __future__ import annotations

import pytest

from spend_guard.notifications import AlarmNotification, BudgetNotification, parse_notification
from tests.fixtures.alert_messages import alarm_message, budget_message


def test_cloudwatch_alarm_notification_is_parsed() -> None:
    # Given the JSON CloudWatch publishes when an alarm fires
    # When it is parsed
    notification = parse_notification(alarm_message("claude-kit-dev-daily-cost"))
    # Then the alarm, its new state and the reason are known
    assert notification == AlarmNotification(
        AlarmName="claude-kit-dev-daily-cost",
        NewStateValue="ALARM",
        NewStateReason="Threshold Crossed: 1 datapoint [5.42] was greater than the threshold (5.0).",
        StateChangeTime="2026-11-25T14:03:11.512+0000",
    )


@pytest.mark.parametrize("alert_type", ["ACTUAL", "FORECASTED"])
def test_budget_notification_text_is_parsed(alert_type: str) -> None:
    # Given a Budgets notification of either type
    # When it is parsed
    notification = parse_notification(budget_message("claude-kit-dev", alert_type))
    # Then the budget and the alert type are known
    assert notification == BudgetNotification(budget_name="claude-kit-dev", alert_type=alert_type)


def test_budget_type_is_read_from_the_sentence_when_the_alert_type_line_is_missing() -> None:
    # Given an older Budgets message without the "Alert Type:" line
    text = budget_message("claude-kit-dev").replace("Alert Type: ACTUAL\n", "")
    # When it is parsed
    notification = parse_notification(text)
    # Then the type still comes from "when the ACTUAL Cost ..."
    assert notification == BudgetNotification(budget_name="claude-kit-dev", alert_type="ACTUAL")


@pytest.mark.parametrize(
    "message",
    [
        "hello from a test publish",
        '{"not": "an alarm"}',
        "{not json",
        budget_message("claude-kit-dev").replace("AWS Budget Notification", "Some Other Notification"),
        budget_message("claude-kit-dev").replace("Budget Name: claude-kit-dev\n", ""),
    ],
)
def test_anything_else_is_not_a_notification(message: str) -> None:
    # Given a message that is neither shape (or lacks what identifies it)
    # When it is parsed
    # Then nothing is recognised, so nothing can stop spending
    assert parse_notification(message) is None
