"""The gate: a lost check, a judge score drop, or cost/tokens/latency/errors beyond tolerance fail it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.evals.baseline import BaselineError, compare, load_baseline, save_baseline
from ops.evals.golden import Tolerances
from tests.unit.ops.evals.support import saved, scenario_result

TOLERANCES = {
    "set": Tolerances(
        cost_increase_pct=10,
        output_tokens_increase_pct=20,
        latency_increase_pct=50,
        latency_slack_ms=20,
        error_rate_increase=0,
        judge_score_drop=0.5,
    )
}


def regressions(before, after) -> dict[str, tuple[object, object]]:
    rows = compare([after], saved(before), TOLERANCES)
    return {row.metric: (row.baseline, row.current) for row in rows if row.regressed}


def test_the_same_figures_pass_the_gate() -> None:
    assert regressions(scenario_result(), scenario_result()) == {}


def test_a_check_that_passed_and_now_fails_is_a_regression() -> None:
    assert regressions(scenario_result(), scenario_result(passed=(False, True))) == {
        "check 0:contains": (True, False)
    }


def test_a_check_that_already_failed_does_not_block_the_gate() -> None:
    before = scenario_result(passed=(False, True))
    assert regressions(before, scenario_result(passed=(False, True))) == {}


def test_cost_beyond_tolerance_fails_and_within_it_passes() -> None:
    assert regressions(scenario_result(cost=0.001), scenario_result(cost=0.00109)) == {}
    assert regressions(scenario_result(cost=0.001), scenario_result(cost=0.00111)) == {
        "cost_usd": (0.001, 0.00111)
    }


def test_latency_beyond_tolerance_and_slack_fails() -> None:
    # 100 ms baseline: allowed 100 × 1.5 + 20 = 170 ms
    assert regressions(scenario_result(latency=100), scenario_result(latency=170)) == {}
    assert regressions(scenario_result(latency=100), scenario_result(latency=171)) == {
        "latency_p95_ms": (100.0, 171.0)
    }


def test_output_tokens_error_rate_and_judge_score_regressions() -> None:
    found = regressions(
        scenario_result(output_tokens=50, judge_score=5),
        scenario_result(output_tokens=61, judge_score=4, errors=1),
    )
    assert found == {"output_tokens": (50.0, 61.0), "error_rate": (0.0, 0.5), "judge_score": (5.0, 4.0)}


def test_a_scenario_without_a_baseline_entry_is_reported_not_gated() -> None:
    rows = compare([scenario_result(scenario_id="new")], saved(scenario_result()), TOLERANCES)
    assert [(row.scenario, row.regressed, row.allowed) for row in rows] == [
        ("set/new", False, "no baseline entry: not gated")
    ]


def test_a_saved_baseline_is_read_back_and_keeps_other_sets(tmp_path: Path) -> None:
    path = tmp_path / "baselines" / "dev.json"
    save_baseline(path, [scenario_result(scenario_id="a")], env="dev", target="core", mode="realtime")
    save_baseline(
        path, [scenario_result(scenario_id="b", cost=0.5)], env="dev", target="core", mode="realtime"
    )
    loaded = load_baseline(path)
    assert loaded is not None
    assert sorted(loaded) == ["set/a", "set/b"]
    assert loaded["set/b"]["metrics"]["cost_usd"] == 0.5
    assert loaded["set/a"]["checks"] == {"0:contains": True, "1:judge": True}
    assert json.loads(path.read_text())["environment"] == "dev"


def test_no_baseline_is_none_and_a_broken_one_says_what_to_do(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "absent.json") is None
    broken = tmp_path / "dev.json"
    broken.write_text('{"version": 9}')
    with pytest.raises(BaselineError, match="not a version 1 baseline; save one again with --save-baseline"):
        load_baseline(broken)
