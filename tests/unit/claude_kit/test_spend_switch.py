"""The spend switch as every function reads it, and the gate built from settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from claude_kit.calls import CallContext
from claude_kit.errors import SpendGuardClosedError
from claude_kit.reservation import SpendGate, get_spend_gate
from claude_kit.spend_switch import SpendSwitch, SwitchState
from claude_kit.worst_case import Charge

CTX = CallContext(route="chat", user_id="user-1")
PARAMETER = "/claude-kit/test/spend-switch"


class SwitchParameter:
    """Stands in for Powertools' SSMProvider: serves `value`, or fails like an unreachable SSM when None."""

    def __init__(self, value: str | None) -> None:
        self.value = value
        self.reads: list[tuple[str, int | None]] = []

    def get(self, name: str, max_age: int | None = None) -> str:
        self.reads.append((name, max_age))
        if self.value is None:
            raise GetParameterError("SSM unreachable")
        return self.value


def closed(reason: str = "alarm claude-kit-test-daily-cost: Threshold Crossed") -> str:
    return json.dumps({"state": "closed", "reason": reason, "changed_by": "alarm:claude-kit-test-daily-cost"})


def metric_names(capsys) -> list[str]:
    names = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and "_aws" in (blob := json.loads(line)):
            names += [metric["Name"] for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return names


def test_closed_switch_refuses_the_call_with_503_and_counts_it(capsys) -> None:
    # Given a switch the spend guard closed
    guard = SpendSwitch(provider=SwitchParameter(closed()), parameter_name=PARAMETER, max_age_seconds=30)
    # When a call is checked
    with pytest.raises(SpendGuardClosedError) as refused:
        guard.refuse_if_closed()
    # Then it is refused with the status the chat API answers, the reason in the detail, and a metric
    assert refused.value.http_status == 503
    assert "Threshold Crossed" in str(refused.value)
    assert refused.value.closed_by == "alarm:claude-kit-test-daily-cost"
    assert refused.value.reason == "alarm claude-kit-test-daily-cost: Threshold Crossed"
    assert metric_names(capsys) == ["SpendGuardRejections"]


def test_open_switch_lets_the_call_through_and_is_read_with_the_cache_age() -> None:
    # Given an open switch
    parameter = SwitchParameter(json.dumps({"state": "open", "reason": "created by deployment"}))
    guard = SpendSwitch(provider=parameter, parameter_name=PARAMETER, max_age_seconds=30)
    # When a call is checked
    guard.refuse_if_closed()
    # Then it passes, and the provider was asked to cache for the configured age
    assert parameter.reads == [(PARAMETER, 30)]


@pytest.mark.parametrize(("value", "is_closed"), [("closed", True), (" open\n", False), ("paused", True)])
def test_bare_words_are_accepted_and_anything_unknown_counts_as_closed(value: str, is_closed: bool) -> None:
    # Given a switch someone set by hand
    guard = SpendSwitch(provider=SwitchParameter(value), parameter_name=PARAMETER)
    # When it is read
    # Then open/closed mean what they say and a value that is neither stops calls
    assert guard.state().closed is is_closed


def test_unreadable_switch_keeps_the_last_value_read() -> None:
    # Given a guard that has read a closed switch, then loses SSM
    parameter = SwitchParameter(closed())
    guard = SpendSwitch(provider=parameter, parameter_name=PARAMETER)
    assert guard.state().closed
    parameter.value = None
    # When a call is checked
    # Then the last known state (closed) still applies
    with pytest.raises(SpendGuardClosedError):
        guard.refuse_if_closed()


def test_unreadable_switch_without_a_previous_read_lets_calls_through() -> None:
    # Given SSM unreachable from a fresh container
    guard = SpendSwitch(provider=SwitchParameter(None), parameter_name=PARAMETER)
    # When a call is checked
    # Then it is allowed: an SSM outage must not take the service down
    guard.refuse_if_closed()


def test_switch_state_round_trips_through_the_parameter_json() -> None:
    # Given the state the spend guard writes
    state = SwitchState.parse(closed("budget claude-kit-test reached its monthly amount"))
    # When it is written and read back
    # Then nothing is lost
    assert SwitchState.parse(state.model_dump_json()) == state
    assert state.closed
    assert state.changed_by == "alarm:claude-kit-test-daily-cost"


def test_no_brake_settings_means_an_open_gate_that_holds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function without KIT_SPEND_SWITCH_PARAMETER or KIT_QUOTA_TABLE (a local run)
    monkeypatch.delenv("KIT_SPEND_SWITCH_PARAMETER", raising=False)
    monkeypatch.delenv("KIT_QUOTA_TABLE", raising=False)
    # When the container's gate is built and a call reserved through it
    gate = get_spend_gate()
    reservation = gate.reserve(CTX, Charge(usd=1.0, tokens=10))
    # Then nothing is checked or held
    assert gate == SpendGate()
    assert reservation.held == Charge()
    assert reservation.remaining_usd is None


def test_a_closed_switch_refuses_before_the_quota_is_asked() -> None:
    # Given a closed switch and a quota that must never be reached
    class NoQuota:
        def hold(self, *_: object) -> None:
            raise AssertionError("the quota was asked although the switch is closed")

    switch = SpendSwitch(provider=SwitchParameter(closed()), parameter_name=PARAMETER)
    gate = SpendGate(switch=switch, quota=NoQuota())  # type: ignore[arg-type]
    # When a call is reserved
    # Then the switch refuses it
    with pytest.raises(SpendGuardClosedError):
        gate.reserve(CTX, Charge(usd=0.01, tokens=100))


def test_the_request_path_brakes_fail_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function with both brakes on
    monkeypatch.setenv("KIT_SPEND_SWITCH_PARAMETER", PARAMETER)
    monkeypatch.setenv("KIT_QUOTA_TABLE", "claude-kit-test-user-quota")
    monkeypatch.setenv("KIT_USER_DAILY_USD_ALLOWANCE", "5")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # When its gate is built
    gate = get_spend_gate()
    # Then the quota table and the switch's SSM client use short timeouts and two attempts, not 60 s × 5
    assert gate.quota is not None
    assert gate.switch is not None
    provider: Any = gate.switch._provider  # Powertools' SSMProvider behind the ParameterSource protocol
    for config in (gate.quota._table.meta.client.meta.config, provider.client.meta.config):
        assert (config.connect_timeout, config.read_timeout) == (1.0, 2.0)
        assert config.retries["total_max_attempts"] == 2
