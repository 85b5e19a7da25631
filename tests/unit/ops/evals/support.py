"""Scenario results built by hand, for the gate and the reports."""

from __future__ import annotations

from typing import Any

from ops.evals.checks import Answer, Verdict
from ops.evals.golden import Scenario
from ops.evals.results import Run, ScenarioResult

EXPECT = [{"contains": ["x"]}, {"judge": {"rubric": "r", "min_score": 4}}]


def scenario_result(
    *,
    passed: tuple[bool, ...] = (True, True),
    cost: float = 0.001,
    latency: float = 100.0,
    output_tokens: int = 50,
    judge_score: int = 5,
    errors: int = 0,
    repeats: int = 2,
    scenario_id: str = "s1",
) -> ScenarioResult:
    scenario = Scenario.model_validate({"id": scenario_id, "prompt": "p", "expect": EXPECT})
    runs = []
    for repeat in range(1, repeats + 1):
        if repeat <= errors:
            runs.append(Run(repeat, None, error="overloaded_error: Overloaded"))
            continue
        answer = Answer("x", "end_turn", 10, output_tokens, cost, latency)
        verdicts = (
            Verdict(passed[0], "all present" if passed[0] else "missing 'x'"),
            Verdict(passed[1], f"judge score {judge_score}", score=judge_score),
        )
        runs.append(Run(repeat, answer, verdicts, judge_cost_usd=0.0001))
    return ScenarioResult("set", scenario, runs)


def saved(result: ScenarioResult) -> dict[str, Any]:
    from ops.evals.baseline import _entry

    return {result.key: _entry(result)}
