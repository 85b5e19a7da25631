"""The spend guard end to end on moto: the alert topic's messages in, the switch, the batch consumers' event
source mappings and the brake alarm out, and Claude calls refused while closed (the fake Claude sees none)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claude_kit.calls import CallContext, ClaudeRequest
from claude_kit.errors import SpendGuardClosedError
from claude_kit.service import get_claude_service
from local.fake_claude import FakeClaudeServer
from tests.fixtures.alert_messages import alarm_message, budget_message, sns_event
from tests.integration.spend_guard.conftest import BRAKE_ALARM, BUDGET, OTHER_ALARM, SWITCH, Deployment

CTX = CallContext(route="chat", user_id="user-1", request_id="req-1")
REQUEST = ClaudeRequest(
    model="claude-sonnet-5-5", max_tokens=100, messages=[{"role": "user", "content": "Is the service up?"}]
)


def alarm_fires(
    deployment: Deployment, name: str = BRAKE_ALARM, state: str = "ALARM"
) -> list[dict[str, Any]]:
    return deployment.invoke(sns_event(alarm_message(name, state), topic_arn=deployment.topic_arn))


def test_daily_cost_alarm_closes_the_switch_pauses_consumers_and_refuses_calls(
    deployment: Deployment, fake_claude: FakeClaudeServer
) -> None:
    # Given an open environment whose calls reach Claude
    assert get_claude_service().create(REQUEST, CTX).text
    assert len(fake_claude.message_calls()) == 1
    # When the daily cost alarm's notification reaches the guard
    (outcome,) = alarm_fires(deployment)
    # Then the switch is closed with the alarm as the reason, and the consumers' mapping is disabled
    assert outcome["action"] == "closed"
    switch = deployment.switch()
    assert switch["state"] == "closed"
    assert switch["changed_by"] == f"alarm:{BRAKE_ALARM}"
    assert switch["reason"] == "claude_daily_budget"
    assert "Threshold Crossed" in switch["detail"]
    assert deployment.mapping_state() == "Disabled"
    assert outcome["mappings_changed"] == [deployment.mapping_id]
    # And the next call is refused before anything is sent to Claude
    with pytest.raises(SpendGuardClosedError) as refused:
        get_claude_service().create(REQUEST, CTX)
    assert refused.value.http_status == 503
    assert len(fake_claude.message_calls()) == 1


def test_reopen_command_restores_calls_consumers_and_rearms_the_alarm(
    deployment: Deployment, fake_claude: FakeClaudeServer
) -> None:
    # Given an environment the daily cost alarm closed, the alarm still in ALARM
    alarm_fires(deployment)
    deployment.cloudwatch.set_alarm_state(AlarmName=BRAKE_ALARM, StateValue="ALARM", StateReason="test")
    # When an operator reopens it with re-arming (what `bin/kit spend-guard reopen --rearm` sends)
    (outcome,) = deployment.invoke(
        {"action": "reopen", "reason": "budget raised", "requested_by": "cli:ops", "rearm_alarms": True}
    )
    # Then calls are allowed again, the mapping runs, and the alarm will fire again if spend is still high
    assert outcome["action"] == "reopened"
    assert deployment.switch()["state"] == "open"
    assert deployment.switch()["changed_by"] == "cli:ops"
    assert deployment.mapping_state() == "Enabled"
    assert deployment.alarm_state() == "OK"
    assert get_claude_service().create(REQUEST, CTX).text
    assert len(fake_claude.message_calls()) == 1


def test_a_retried_delivery_changes_nothing_more(deployment: Deployment) -> None:
    # Given an alarm notification already handled
    alarm_fires(deployment)
    first = deployment.switch()
    # When SNS delivers it again
    (outcome,) = alarm_fires(deployment)
    # Then the switch keeps the first closing's record and the mapping stays disabled
    assert outcome["action"] == "unchanged"
    assert deployment.switch() == first
    assert deployment.mapping_state() == "Disabled"


@pytest.mark.parametrize(("alert_type", "state"), [("ACTUAL", "closed"), ("FORECASTED", "open")])
def test_budget_closes_only_when_actual_spend_reaches_it(
    deployment: Deployment, alert_type: str, state: str
) -> None:
    # Given the environment's budget notifications
    # When one arrives
    deployment.invoke(sns_event(budget_message(BUDGET, alert_type), topic_arn=deployment.topic_arn))
    # Then ACTUAL (100 %) closes the switch and FORECASTED (80 %) only informs people
    assert deployment.switch()["state"] == state


@pytest.mark.parametrize(
    "message",
    [
        alarm_message(OTHER_ALARM),
        alarm_message(BRAKE_ALARM, "INSUFFICIENT_DATA"),
        budget_message("someone-elses-budget"),
        "A test message published from the console",
    ],
)
def test_other_messages_on_the_topic_change_nothing(deployment: Deployment, message: str) -> None:
    # Given messages that are not a brake: another alarm, no data, another budget, a test publish
    # When they reach the guard
    (outcome,) = deployment.invoke(sns_event(message, topic_arn=deployment.topic_arn))
    # Then nothing changes
    assert outcome["action"] == "ignored"
    assert deployment.switch()["state"] == "open"
    assert deployment.mapping_state() == "Enabled"


def test_a_brake_alarm_from_another_topic_is_ignored(deployment: Deployment) -> None:
    # Given the daily cost alarm's message, arriving through a topic the guard was not set up for
    foreign = deployment.topic_arn.replace("claude-kit-test-alerts", "someone-elses-topic")
    # When it reaches the guard
    (outcome,) = deployment.invoke(sns_event(alarm_message(BRAKE_ALARM), topic_arn=foreign))
    # Then it is ignored
    assert outcome["action"] == "ignored"
    assert deployment.switch()["state"] == "open"


def test_the_alarm_returning_to_ok_reopens_what_it_closed(deployment: Deployment) -> None:
    # Given a switch the daily cost alarm closed (auto-reopen on)
    alarm_fires(deployment)
    # When the alarm is OK again (the last 24 hours are back under the threshold)
    (outcome,) = alarm_fires(deployment, state="OK")
    # Then spending resumes
    assert outcome["action"] == "reopened"
    assert deployment.switch()["state"] == "open"
    assert deployment.mapping_state() == "Enabled"


def test_the_alarm_returning_to_ok_leaves_an_operators_closing_alone(deployment: Deployment) -> None:
    # Given a switch an operator closed
    deployment.invoke({"action": "close", "reason": "investigating a cost spike", "requested_by": "cli:ops"})
    # When the daily cost alarm reports OK
    (outcome,) = alarm_fires(deployment, state="OK")
    # Then the switch stays closed
    assert outcome["action"] == "ignored"
    assert deployment.switch()["state"] == "closed"
    assert deployment.mapping_state() == "Disabled"


def test_daily_reopen_leaves_a_closing_whose_alarm_is_still_in_alarm(deployment: Deployment) -> None:
    # Given a switch the daily cost alarm closed, the alarm still in ALARM (spend inside the rolling 24 hours)
    alarm_fires(deployment)
    deployment.cloudwatch.set_alarm_state(AlarmName=BRAKE_ALARM, StateValue="ALARM", StateReason="test")
    # When the 00:05 UTC schedule runs
    (outcome,) = deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    # Then nothing changes: the alarm is not re-armed (it would fire again at once), the switch stays closed
    assert outcome["action"] == "ignored"
    assert deployment.switch()["state"] == "closed"
    assert deployment.mapping_state() == "Disabled"
    assert deployment.alarm_state() == "ALARM"


def test_daily_reopen_reopens_an_alarm_closing_once_the_alarm_is_ok(deployment: Deployment) -> None:
    # Given a switch the daily cost alarm closed, whose OK notification was lost, the alarm now OK
    alarm_fires(deployment)
    deployment.cloudwatch.set_alarm_state(AlarmName=BRAKE_ALARM, StateValue="OK", StateReason="test")
    # When the 00:05 UTC schedule runs
    (outcome,) = deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    # Then the switch and the consumers are back on
    assert outcome["action"] == "reopened"
    assert deployment.switch()["state"] == "open"
    assert deployment.mapping_state() == "Enabled"


@pytest.mark.parametrize(("closed_at", "state"), [("2026-11-30T23:00:00+00:00", "open"), (None, "closed")])
def test_daily_reopen_reopens_a_monthly_closing_only_in_a_new_month(
    deployment: Deployment, closed_at: str | None, state: str
) -> None:
    # Given a switch the monthly Claude brake closed (last month, or just now)
    (closed,) = deployment.invoke(
        {
            "action": "close",
            "cause": "claude_monthly_budget",
            "reason": "MTD 61 > 60",
            "requested_by": "brake",
        }
    )
    assert closed["state"]["reason"] == "claude_monthly_budget"
    if closed_at is not None:
        deployment.ssm.put_parameter(
            Name=SWITCH, Value=json.dumps({**deployment.switch(), "changed_at": closed_at}), Overwrite=True
        )
    # When the 00:05 UTC schedule runs
    deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    # Then a new month reopens it; the same month keeps it closed
    assert deployment.switch()["state"] == state


def test_daily_reopen_leaves_a_budget_closing_alone(deployment: Deployment) -> None:
    # Given a switch the monthly budget closed
    deployment.invoke(sns_event(budget_message(BUDGET), topic_arn=deployment.topic_arn))
    # When the 00:05 UTC schedule runs
    (outcome,) = deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    # Then it stays closed: a new day does not reset a monthly budget
    assert outcome["action"] == "ignored"
    assert deployment.switch()["state"] == "closed"
    assert deployment.mapping_state() == "Disabled"


def test_status_reports_the_switch(deployment: Deployment) -> None:
    # Given a closed switch
    alarm_fires(deployment)
    # When an operator asks for the status
    (outcome,) = deployment.invoke({"action": "status", "requested_by": "cli:ops"})
    # Then the state and its reason come back without changing anything
    assert outcome["state"]["state"] == "closed"
    assert outcome["state"]["changed_by"] == f"alarm:{BRAKE_ALARM}"
    assert deployment.mapping_state() == "Disabled"


def test_a_budget_closing_after_the_alarm_is_not_undone_by_the_daily_reopen(deployment: Deployment) -> None:
    # Given a switch the daily cost alarm closed, then the budget's ACTUAL notification on the same day
    alarm_fires(deployment)
    deployment.invoke(sns_event(budget_message(BUDGET), topic_arn=deployment.topic_arn))
    assert deployment.switch()["changed_by"] == f"budget:{BUDGET}"
    assert deployment.switch()["reason"] == "aws_budget"
    # When the alarm recovers and the 00:05 UTC schedule runs
    alarm_fires(deployment, state="OK")
    (outcome,) = deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    # Then spending stays stopped: only an operator reopens a monthly budget's closing
    assert outcome["action"] == "ignored"
    assert deployment.switch()["state"] == "closed"
    assert deployment.mapping_state() == "Disabled"


def test_a_retried_daily_reopen_resumes_consumers_left_paused(deployment: Deployment) -> None:
    # Given an open switch whose consumers are still paused (a first reopen attempt failed halfway)
    alarm_fires(deployment)
    deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    deployment.lambda_client.update_event_source_mapping(UUID=deployment.mapping_id, Enabled=False)
    # When the schedule's invocation is retried
    deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    # Then the consumers run again
    assert deployment.switch()["state"] == "open"
    assert deployment.mapping_state() == "Enabled"


def test_daily_reopen_with_a_brake_alarm_missing_reopens_and_names_it(deployment: Deployment) -> None:
    # Given a switch the brake alarm closed, and that alarm since deleted by hand
    alarm_fires(deployment)
    deployment.cloudwatch.delete_alarms(AlarmNames=[BRAKE_ALARM])
    # When the 00:05 UTC schedule runs
    (outcome,) = deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    # Then the reopen still happens (no alarm holds it closed), and the outcome names the missing alarm
    assert outcome["action"] == "reopened"
    assert deployment.switch()["state"] == "open"
    assert deployment.mapping_state() == "Enabled"
    assert outcome["missing_alarms"] == [BRAKE_ALARM]
    assert f"not found, not re-armed: {BRAKE_ALARM}" in outcome["detail"]


def test_the_daily_run_of_an_open_switch_names_a_missing_alarm(deployment: Deployment) -> None:
    # Given an open switch and its brake alarm deleted
    deployment.cloudwatch.delete_alarms(AlarmNames=[BRAKE_ALARM])
    # When the schedule runs
    (outcome,) = deployment.invoke({"action": "daily-reopen", "requested_by": "schedule"})
    # Then nothing fails: the switch is left open and the missing alarm is named
    assert outcome["action"] == "ignored"
    assert outcome["missing_alarms"] == [BRAKE_ALARM]
    assert deployment.switch()["state"] == "open"
