"""The environment's spend switch: an SSM parameter the spend guard closes when a budget brake fires.

Read through Powertools' `SSMProvider`, cached `max_age_seconds` per container, so a request costs no SSM call
most of the time. If the parameter cannot be read, the last value read stands (open if none): an SSM outage or
throttling must not take the service down (the brakes upstream still close the switch when they can).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from claude_kit.contract import Metric
from claude_kit.errors import SpendGuardClosedError
from claude_kit.observability import logger
from claude_kit.telemetry import record_count


class SwitchState(BaseModel):
    """The spend switch's value: JSON written by the spend guard (`open`/`closed` alone is accepted too)."""

    model_config = ConfigDict(frozen=True)

    state: Literal["open", "closed"]
    reason: str = ""
    changed_at: datetime | None = None
    changed_by: str | None = None

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    @classmethod
    def parse(cls, raw: str) -> SwitchState:
        """The JSON form or a bare `open` / `closed`; anything else counts as closed: meant to stop."""
        text = raw.strip()
        if text in ("open", "closed"):
            return cls(state=text)
        try:
            return cls.model_validate_json(text)
        except ValueError:
            logger.error(
                "Spend switch holds an unknown value: treated as closed", extra={"value": text[:200]}
            )
            return cls(state="closed", reason="the switch holds an unrecognised value")


OPEN = SwitchState(state="open")


class ParameterSource(Protocol):
    """What the switch needs of Powertools' `SSMProvider`: a cached read."""

    def get(self, name: str, max_age: int | None = None) -> Any: ...


class SpendSwitch:
    def __init__(self, *, provider: ParameterSource, parameter_name: str, max_age_seconds: int = 30) -> None:
        self._provider = provider
        self._name = parameter_name
        self._max_age = max_age_seconds
        self._last = OPEN

    @property
    def parameter_name(self) -> str:
        return self._name

    def state(self) -> SwitchState:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            raw = self._provider.get(self._name, max_age=self._max_age)
        except GetParameterError:
            logger.warning("Spend switch unreadable: keeping its last value", extra={"parameter": self._name})
            return self._last
        self._last = SwitchState.parse(str(raw))
        return self._last

    def refuse_if_closed(self) -> None:
        """Raise `SpendGuardClosedError` (counted in `SpendGuardRejections`) while the switch is closed."""
        state = self.state()
        if state.closed:
            record_count(Metric.SPEND_GUARD_REJECTIONS)
            raise SpendGuardClosedError(
                f"spend switch {self._name} is closed: {state.reason or 'no reason given'}",
                reason=state.reason,
                closed_by=state.changed_by,
            )
