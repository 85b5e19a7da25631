"""What a run produced: per scenario, each repeat's answer and verdicts, and the figures a baseline keeps."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.evals.checks import Answer, Verdict
from ops.evals.golden import Check, Scenario, check_kind


@dataclass(frozen=True, slots=True)
class Run:
    """One repeat: an answer with one verdict per expectation, or the error that stopped it."""

    repeat: int
    answer: Answer | None
    verdicts: tuple[Verdict, ...] = ()
    error: str | None = None
    judge_cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """One expectation over every repeat: passed when every run it applied to passed."""

    key: str
    passed: bool | None
    passes: int
    applied: int
    detail: str
    score: float | None


@dataclass(frozen=True, slots=True)
class Metrics:
    runs: int
    errors: int
    input_tokens: float | None
    output_tokens: float | None
    cost_usd: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    judge_score: float | None
    judge_cost_usd: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.runs if self.runs else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "input_tokens": _round(self.input_tokens, 2),
            "output_tokens": _round(self.output_tokens, 2),
            "cost_usd": _round(self.cost_usd, 8),
            "latency_p50_ms": _round(self.latency_p50_ms, 1),
            "latency_p95_ms": _round(self.latency_p95_ms, 1),
            "judge_score": _round(self.judge_score, 3),
            "judge_cost_usd": _round(self.judge_cost_usd, 8),
        }


def check_key(index: int, check: Check) -> str:
    """Stable within a scenario while its expectations keep their order: `2:contains`."""
    return f"{index}:{check_kind(check)}"


@dataclass(slots=True)
class ScenarioResult:
    set_id: str
    scenario: Scenario
    runs: list[Run] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.set_id}/{self.scenario.id}"

    @property
    def passed(self) -> bool:
        return all(run.error is None for run in self.runs) and all(
            summary.passed is not False for summary in self.checks()
        )

    def checks(self) -> list[CheckSummary]:
        summaries = []
        for index, check in enumerate(self.scenario.expect):
            verdicts = [run.verdicts[index] for run in self.runs if run.error is None]
            applied = [v for v in verdicts if v.passed is not None]
            failed = next((v for v in applied if not v.passed), None)
            scores = [v.score for v in applied if v.score is not None]
            summaries.append(
                CheckSummary(
                    key=check_key(index, check),
                    passed=None if not applied else failed is None,
                    passes=sum(1 for v in applied if v.passed),
                    applied=len(applied),
                    detail=_detail(failed, applied, verdicts),
                    score=statistics.fmean(scores) if scores else None,
                )
            )
        return summaries

    def metrics(self) -> Metrics:
        answers = [run.answer for run in self.runs if run.answer is not None and run.error is None]
        costs = [a.cost_usd for a in answers]
        latencies = sorted(a.latency_ms for a in answers if a.latency_ms is not None)
        judge_scores = [s.score for s in self.checks() if s.score is not None and s.key.endswith(":judge")]
        return Metrics(
            runs=len(self.runs),
            errors=sum(1 for run in self.runs if run.error is not None),
            input_tokens=_mean([a.input_tokens for a in answers]),
            output_tokens=_mean([a.output_tokens for a in answers]),
            cost_usd=None if not costs or None in costs else _mean([c for c in costs if c is not None]),
            latency_p50_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
            judge_score=_mean(judge_scores),
            judge_cost_usd=sum(run.judge_cost_usd for run in self.runs),
        )

    def first_error(self) -> str | None:
        return next((run.error for run in self.runs if run.error is not None), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "set": self.set_id,
            "scenario": self.scenario.id,
            "passed": self.passed,
            "metrics": self.metrics().to_json(),
            "checks": [
                {
                    "key": c.key,
                    "passed": c.passed,
                    "passes": c.passes,
                    "applied": c.applied,
                    "detail": c.detail,
                    "score": c.score,
                }
                for c in self.checks()
            ],
            "runs": [
                {
                    "repeat": run.repeat,
                    "error": run.error,
                    "text": run.answer.text if run.answer else None,
                    "stop_reason": run.answer.stop_reason if run.answer else None,
                    "input_tokens": run.answer.input_tokens if run.answer else None,
                    "output_tokens": run.answer.output_tokens if run.answer else None,
                    "cost_usd": run.answer.cost_usd if run.answer else None,
                    "latency_ms": run.answer.latency_ms if run.answer else None,
                    "judge_cost_usd": run.judge_cost_usd,
                    "verdicts": [
                        {"passed": v.passed, "detail": v.detail, "score": v.score} for v in run.verdicts
                    ],
                }
                for run in self.runs
            ],
        }


def _detail(failed: Verdict | None, applied: list[Verdict], verdicts: list[Verdict]) -> str:
    """The first failure's reason; else a passing run's; else why nothing applied."""
    chosen = failed or (applied[0] if applied else verdicts[0] if verdicts else None)
    return chosen.detail if chosen is not None else "not evaluated: every run failed"


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest rank on sorted `values`: with a handful of repeats, p95 is the slowest run, as it should be."""
    if not values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return float(values[rank - 1])


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None
