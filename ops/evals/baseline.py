"""Baselines (evals/baselines/<env>.json) and the regression gate that compares a run with one.

A baseline keeps, per scenario, which checks passed and the figures (tokens, cost, latency, error rate, judge
score). A later run regresses when a check that passed now fails, the judge score drops by more than its
margin, or cost, output tokens, p95 latency or error rate grow beyond the set's tolerances.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.evals.golden import Tolerances
from ops.evals.results import ScenarioResult

BASELINE_DIR = Path("evals/baselines")
_VERSION = 1


class BaselineError(ValueError):
    """A baseline file that cannot be read; the message names it."""


def baseline_path(env: str, directory: Path = BASELINE_DIR) -> Path:
    return directory / f"{env}.json"


def load_baseline(path: Path) -> dict[str, Any] | None:
    """The saved figures per scenario key, or None when no baseline was saved yet."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(
            f"{path}: not a readable baseline ({exc}); save one again with --save-baseline"
        ) from exc
    if (
        not isinstance(data, dict)
        or data.get("version") != _VERSION
        or not isinstance(data.get("scenarios"), dict)
    ):
        raise BaselineError(f"{path}: not a version {_VERSION} baseline; save one again with --save-baseline")
    scenarios: dict[str, Any] = data["scenarios"]
    return scenarios


def save_baseline(path: Path, results: Sequence[ScenarioResult], *, env: str, target: str, mode: str) -> None:
    """Write the run's figures; scenarios of sets not in this run keep their saved entries."""
    kept = load_baseline(path) or {}
    kept.update({result.key: _entry(result) for result in results})
    document = {
        "version": _VERSION,
        "environment": env,
        "target": target,
        "mode": mode,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenarios": dict(sorted(kept.items())),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _entry(result: ScenarioResult) -> dict[str, Any]:
    return {
        "metrics": result.metrics().to_json(),
        "checks": {check.key: check.passed for check in result.checks()},
    }


@dataclass(frozen=True, slots=True)
class DiffRow:
    scenario: str
    metric: str
    baseline: float | bool | None
    current: float | bool | None
    allowed: str
    regressed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "metric": self.metric,
            "baseline": self.baseline,
            "current": self.current,
            "allowed": self.allowed,
            "regressed": self.regressed,
        }


def compare(
    results: Sequence[ScenarioResult], baseline: dict[str, Any], tolerances: dict[str, Tolerances]
) -> list[DiffRow]:
    """One row per compared figure of every scenario with a baseline entry; `tolerances` by set id."""
    rows: list[DiffRow] = []
    for result in results:
        saved = baseline.get(result.key)
        if not isinstance(saved, dict):
            rows.append(DiffRow(result.key, "scenario", None, None, "no baseline entry: not gated", False))
            continue
        rows.extend(_compare_one(result, saved, tolerances[result.set_id]))
    return rows


def _compare_one(result: ScenarioResult, saved: dict[str, Any], tol: Tolerances) -> list[DiffRow]:
    key = result.key
    rows = []
    saved_checks: dict[str, Any] = saved.get("checks") or {}
    for check in result.checks():
        before = saved_checks.get(check.key)
        if before is True or check.passed is False:
            regressed = before is True and check.passed is False
            rows.append(
                DiffRow(key, f"check {check.key}", before, check.passed, "must keep passing", regressed)
            )
    now = result.metrics().to_json()
    then: dict[str, Any] = saved.get("metrics") or {}

    def grow(metric: str, pct: float, slack: float = 0.0, unit: str = "") -> None:
        base, current = then.get(metric), now.get(metric)
        if base is None or current is None:
            return
        limit = base * (1 + pct / 100) + slack
        allowed = f"<= {limit:.6g}{unit} (+{pct:g}%" + (f" +{slack:g}{unit})" if slack else ")")
        rows.append(DiffRow(key, metric, base, current, allowed, current > limit + 1e-12))

    grow("cost_usd", tol.cost_increase_pct)
    grow("output_tokens", tol.output_tokens_increase_pct)
    grow("latency_p95_ms", tol.latency_increase_pct, tol.latency_slack_ms, " ms")
    base_rate, rate = then.get("error_rate"), now["error_rate"]
    if base_rate is not None:
        limit = base_rate + tol.error_rate_increase
        rows.append(DiffRow(key, "error_rate", base_rate, rate, f"<= {limit:.3g}", rate > limit + 1e-12))
    base_score, score = then.get("judge_score"), now["judge_score"]
    if base_score is not None and score is not None:
        floor = base_score - tol.judge_score_drop
        rows.append(DiffRow(key, "judge_score", base_score, score, f">= {floor:.3g}", score < floor - 1e-12))
    return rows
