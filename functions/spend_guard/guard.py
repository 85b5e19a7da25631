"""Closing and reopening an environment's spending: the spend switch, the batch consumers, the brake alarms.

Closed means: the switch parameter says `closed` with a reason code (claude_kit.spend_reasons; every
`SpendSwitch` refuses calls within its cache age, the chat API's 503 names the reason) and the SQS event
source mappings of the batch consumers are disabled, so queued work waits in SQS without being received (a
consumer whose mapping is still on parks its records itself: batch_jobs/spend_pause.py). Reopening undoes
both. Every step is idempotent: SNS and Lambda retry deliveries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from claude_kit.observability import logger
from claude_kit.spend_reasons import SpendReason
from claude_kit.spend_switch import SwitchState
from spend_guard.notifications import AlarmNotification, BudgetNotification, parse_notification

Action = Literal["closed", "reopened", "unchanged", "ignored"]


class GuardState(SwitchState):
    """The switch as the guard writes it: `reason` is a code (SpendReason), `detail` the words behind it.

    Functions read it as a `SwitchState`, which ignores `detail`."""

    detail: str = ""

    @classmethod
    def of(cls, raw: str) -> GuardState:
        """The parameter's value; a bare or unrecognised one as `SwitchState.parse` reads it."""
        try:
            return cls.model_validate_json(raw)
        except ValueError:
            return cls.model_validate(SwitchState.parse(raw).model_dump())


class Outcome(BaseModel):
    """What the guard did, returned by the function (so the CLI shows it) and logged."""

    model_config = ConfigDict(frozen=True)

    action: Action
    detail: str
    state: GuardState | None = None
    #: Event source mappings whose `Enabled` flag this call changed.
    mappings_changed: tuple[str, ...] = ()
    #: Brake alarms that could not be re-armed because they do not exist (renamed or deleted by hand).
    missing_alarms: tuple[str, ...] = ()


class SpendSwitch:
    """The SSM parameter the `SpendSwitch` (claude_kit.spend_switch) of every function reads."""

    def __init__(self, *, ssm: Any, parameter_name: str) -> None:
        self._ssm = ssm
        self.parameter_name = parameter_name

    def read(self) -> GuardState:
        value = self._ssm.get_parameter(Name=self.parameter_name)["Parameter"]["Value"]
        return GuardState.of(value)

    def write(self, state: GuardState) -> None:
        self._ssm.put_parameter(
            Name=self.parameter_name, Value=state.model_dump_json(), Type="String", Overwrite=True
        )


class BatchConsumers:
    """The SQS event source mappings that feed queued work to the functions calling Claude."""

    _OFF = ("Disabled", "Disabling")
    _ON = ("Enabled", "Enabling")

    def __init__(self, *, lambda_client: Any, mapping_ids: Sequence[str]) -> None:
        self._lambda = lambda_client
        self._mapping_ids = tuple(mapping_ids)

    def set_enabled(self, enabled: bool) -> list[str]:
        """Returns the UUIDs of the mappings changed; those already in the wanted state are left alone."""
        settled = self._ON if enabled else self._OFF
        changed = []
        for uuid in self._mapping_ids:
            if self._lambda.get_event_source_mapping(UUID=uuid)["State"] not in settled:
                self._lambda.update_event_source_mapping(UUID=uuid, Enabled=enabled)
                changed.append(uuid)
        return changed


class SpendGuard:
    """Acts on alert-topic notifications and commands for one environment.

    A brake alarm's ALARM (reason `claude_daily_budget`) or the budget's ACTUAL notification (`aws_budget`)
    closes; the monthly brake (reconciliation.month_to_date) and operators close through commands. With
    `auto_reopen`, a brake alarm's OK reopens a switch that alarm closed, and `daily_reopen` (the 00:05 UTC
    schedule) reopens a switch an alarm closed only if that alarm is OK now (never re-arming it: the daily
    alarm is a rolling 24 hours, and re-arming it while the spend is still inside the window made it fire
    again every day), and a monthly closing once a new month has begun. A switch closed by the AWS budget or
    by an operator stays closed until an operator reopens it.
    """

    def __init__(
        self,
        *,
        switch: SpendSwitch,
        consumers: BatchConsumers,
        cloudwatch: Any,
        brake_alarm_names: Sequence[str],
        budget_name: str | None,
        topic_arn: str | None,
        auto_reopen: bool,
        cancel_batches: Callable[[], Sequence[str]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._switch = switch
        self._consumers = consumers
        self._cloudwatch = cloudwatch
        self._brake_alarms = tuple(sorted(brake_alarm_names))
        self._budget_name = budget_name
        self._topic_arn = topic_arn
        self._auto_reopen = auto_reopen
        self._cancel_batches = cancel_batches
        self._now = now

    def on_notification(self, topic_arn: str, message: str) -> Outcome:
        if self._topic_arn is not None and topic_arn != self._topic_arn:
            return _ignored(f"message from unexpected topic {topic_arn}")
        match parse_notification(message):
            case AlarmNotification(AlarmName=name, NewStateValue="ALARM", NewStateReason=why) if (
                name in self._brake_alarms
            ):
                return self.close(
                    reason="claude_daily_budget", detail=f"alarm {name}: {why}", by=_alarm(name)
                )
            case AlarmNotification(AlarmName=name, NewStateValue="OK") if name in self._brake_alarms:
                if self._auto_reopen and self._switch.read().changed_by == _alarm(name):
                    return self.reopen(reason=f"alarm {name} is OK again", by=_alarm(name))
                return _ignored(f"alarm {name} is OK: the switch was not closed by it or auto-reopen is off")
            case BudgetNotification(budget_name=name, alert_type="ACTUAL") if name == self._budget_name:
                return self.close(
                    reason="aws_budget",
                    detail=f"budget {name} reached its monthly amount",
                    by=f"budget:{name}",
                )
            case AlarmNotification(AlarmName=name, NewStateValue=state):
                return _ignored(f"alarm {name} is {state}: not a brake")
            case BudgetNotification(budget_name=name, alert_type=kind):
                return _ignored(f"budget {name} {kind} notification: not a brake")
            case _:
                return _ignored("not an alarm or budget notification")

    def close(self, *, reason: SpendReason, detail: str, by: str) -> Outcome:
        current = self._switch.read()
        state = current
        # A budget, the monthly brake or an operator closing a switch an alarm closed takes it over: the
        # automatic reopens (alarm OK, the daily schedule) reopen only what an alarm closed.
        takes_over = _closed_by_alarm(current) and not by.startswith(_alarm(""))
        if not current.closed or takes_over:
            state = GuardState(
                state="closed", reason=reason, detail=detail, changed_at=self._now(), changed_by=by
            )
            self._switch.write(state)
        # Pause even when already closed: a retried delivery must finish a close that failed halfway, and a
        # consumer that found its mapping still on asks for exactly this.
        changed = self._consumers.set_enabled(False)
        canceled = list(self._cancel_batches()) if self._cancel_batches is not None else []
        action: Action = "unchanged" if current.closed else "closed"
        logger.warning(
            "Spend switch closed",
            extra={
                "reason": state.reason,
                "detail": state.detail,
                "by": by,
                "action": action,
                "mappings_disabled": changed,
                "batches_canceled": canceled,
            },
        )
        return Outcome(action=action, detail=state.detail, state=state, mappings_changed=tuple(changed))

    def reopen(self, *, reason: str, by: str, rearm_alarms: bool = False) -> Outcome:
        """`rearm_alarms` sets the brake alarms back to OK: if spend is still over a threshold, the alarm
        fires again at its next evaluation (closing the switch again) instead of staying silently in ALARM."""
        current = self._switch.read()
        state = current
        if current.closed:
            state = GuardState(state="open", detail=reason, changed_at=self._now(), changed_by=by)
            self._switch.write(state)
        changed = self._consumers.set_enabled(True)
        missing = self._rearm(reason) if rearm_alarms else ()
        action: Action = "reopened" if current.closed else "unchanged"
        logger.info(
            "Spend switch open",
            extra={"reason": reason, "by": by, "action": action, "mappings_enabled": changed},
        )
        return Outcome(
            action=action,
            detail=reason + _missing_note(missing),
            state=state,
            mappings_changed=tuple(changed),
            missing_alarms=missing,
        )

    def daily_reopen(self) -> Outcome:
        """A new day: reopen a daily closing whose alarm is OK (or gone), and a monthly one in a new month."""
        current = self._switch.read()
        if _closed_by_alarm(current):
            name = (current.changed_by or "").removeprefix(_alarm(""))
            alarm_state = self._alarm_state(name)
            if alarm_state != "ALARM":  # OK, no data (no spend), or the alarm was dropped
                reopened = self.reopen(
                    reason=f"daily reopen: alarm {name} is {alarm_state or 'gone'}", by="schedule"
                )
                gone: tuple[str, ...] = () if alarm_state else (name,)
                return reopened.model_copy(
                    update={"detail": reopened.detail + _missing_note(gone), "missing_alarms": gone}
                )
            return _ignored(f"alarm {name} is still ALARM: the last 24 hours' spend is above its threshold")
        if current.closed and current.reason == "claude_monthly_budget" and self._new_month_since(current):
            return self.reopen(reason="daily reopen: a new month began", by="schedule")
        if not current.closed:
            # A retried run whose first attempt opened the switch but failed to resume the consumers.
            self._consumers.set_enabled(True)
        # A brake alarm deleted or renamed by hand no longer brakes: say so every day.
        missing = self._missing_alarms()
        detail = f"switch is {current.state} (changed by {current.changed_by}): left as it is"
        return _ignored(detail + _missing_note(missing)).model_copy(update={"missing_alarms": missing})

    def status(self) -> Outcome:
        return Outcome(action="unchanged", detail="status", state=self._switch.read())

    def _alarm_state(self, name: str) -> str | None:
        alarms = self._cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return str(alarms[0]["StateValue"]) if alarms else None

    def _missing_alarms(self) -> tuple[str, ...]:
        if not self._brake_alarms:
            return ()
        found = self._cloudwatch.describe_alarms(AlarmNames=list(self._brake_alarms))["MetricAlarms"]
        missing = tuple(sorted(set(self._brake_alarms) - {alarm["AlarmName"] for alarm in found}))
        if missing:
            logger.warning("Brake alarms missing", extra={"alarms": missing})
        return missing

    def _new_month_since(self, state: GuardState) -> bool:
        if state.changed_at is None:
            return True
        now, then = self._now(), state.changed_at
        return (now.year, now.month) != (then.year, then.month)

    def _rearm(self, reason: str) -> tuple[str, ...]:
        """Set each brake alarm to OK; returns those that do not exist, after re-arming all the others.

        A missing alarm (deleted or renamed outside the stack) must not stop the reopen halfway, nor go
        unnoticed: it is skipped, logged as a warning, and named in the outcome.
        """
        missing = []
        for name in self._brake_alarms:
            try:
                self._cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason=reason)
            except self._cloudwatch.exceptions.ResourceNotFound:
                missing.append(name)
        if missing:
            logger.warning("Brake alarms missing: not re-armed", extra={"alarms": missing})
        return tuple(missing)


def _alarm(name: str) -> str:
    return f"alarm:{name}"


def _missing_note(missing: Sequence[str]) -> str:
    return f"; brake alarms not found, not re-armed: {', '.join(missing)}" if missing else ""


def _ignored(detail: str) -> Outcome:
    logger.info("Spend guard: nothing to do", extra={"detail": detail})
    return Outcome(action="ignored", detail=detail)


def _closed_by_alarm(state: SwitchState) -> bool:
    return state.closed and (state.changed_by or "").startswith(_alarm(""))
