"""Warnings before the brakes: a notification when Claude spend passes 50 / 80 / 100 % (configurable) of the
daily or the monthly Claude budget, each threshold at most once per period (UTC day, UTC month).

Which thresholds went out is remembered in a small SSM parameter, so an hourly run (or a retried one) never
repeats a warning; a run that crosses several thresholds at once sends one notification, for the highest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol


class SentWarnings(Protocol):
    """Where the thresholds already notified are kept: {"day": {"period", "sent"}, "month": {...}}."""

    def load(self) -> dict[str, Any]: ...

    def save(self, value: dict[str, Any]) -> None: ...


class ParameterSentWarnings:
    def __init__(self, ssm: Any, name: str) -> None:
        self._ssm = ssm
        self._name = name

    def load(self) -> dict[str, Any]:
        try:
            value = self._ssm.get_parameter(Name=self._name)["Parameter"]["Value"]
        except self._ssm.exceptions.ParameterNotFound:
            return {}
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}

    def save(self, value: dict[str, Any]) -> None:
        self._ssm.put_parameter(Name=self._name, Value=json.dumps(value), Type="String", Overwrite=True)


class BudgetWarnings:
    def __init__(
        self,
        *,
        env_name: str,
        percents: Sequence[int],
        daily_usd: float | None,
        monthly_usd: float | None,
        sent: SentWarnings,
        notify: Callable[[str, str], None],
    ) -> None:
        self._env_name = env_name
        self._percents = tuple(sorted(set(percents)))
        self._budgets = {"day": daily_usd, "month": monthly_usd}
        self._sent = sent
        self._notify = notify

    def check(self, *, spent_today: float, spent_month: float, now: datetime) -> list[str]:
        """Notify what is newly crossed; returns the subjects sent."""
        state = self._sent.load()
        periods = {"day": now.date().isoformat(), "month": now.strftime("%Y-%m")}
        spent = {"day": spent_today, "month": spent_month}
        subjects: list[str] = []
        changed = False
        for kind in ("day", "month"):
            budget = self._budgets[kind]
            if budget is None:
                continue
            record = state.get(kind) or {}
            already = set(record.get("sent", [])) if record.get("period") == periods[kind] else set()
            used_percent = spent[kind] / budget * 100
            crossed = [p for p in self._percents if used_percent >= p and p not in already]
            if not crossed:
                continue
            subject, body = self._message(kind, max(crossed), spent[kind], budget, periods[kind])
            self._notify(subject, body)
            subjects.append(subject)
            state[kind] = {"period": periods[kind], "sent": sorted(already | set(crossed))}
            changed = True
        if changed:
            self._sent.save(state)
        return subjects

    def _message(self, kind: str, percent: int, spent: float, budget: float, period: str) -> tuple[str, str]:
        which = "daily" if kind == "day" else "monthly"
        key = "claude_daily_usd" if kind == "day" else "claude_monthly_usd"
        subject = f"claude-kit {self._env_name}: {percent} % of the {which} Claude budget used"
        body = (
            f"Claude spend in {period} is {spent:.2f} USD, {spent / budget * 100:.0f} % of the {which} "
            f"Claude budget ({budget:.2f} USD, alerts.{key}). "
            + (
                "The spend guard closes at 100 %."
                if percent < 100
                else "The spend guard closes (or has closed) Claude calls."
            )
        )
        return subject, body
