"""Reports: the terminal table, Markdown and JSON say the same thing: what passed, what failed and why."""

from __future__ import annotations

from ops.evals.baseline import compare
from ops.evals.golden import Tolerances
from ops.evals.report import Report
from ops.evals.results import percentile
from tests.unit.ops.evals.support import saved, scenario_result


def test_a_failed_check_is_shown_with_its_reason_in_every_format() -> None:
    report = Report(
        "dev", "core", "realtime", [scenario_result(passed=(False, True)), scenario_result(scenario_id="s2")]
    )
    table, markdown, data = report.table(), report.markdown(), report.to_json()
    line = "set/s1 0:contains: missing 'x' (0/2 runs passed)"
    assert line in table
    assert f"- {line}" in markdown
    assert markdown.startswith("### Claude evals: ❌ failed (dev)")
    assert "| set/s1 | FAIL | 2 | 0 |" in markdown
    assert data["ok"] is False
    assert data["summary"] == {"scenarios": 2, "passed": 1, "failed": 1, "regressions": 0, "cost_usd": 0.0044}
    assert data["scenarios"][0]["checks"][0] == {
        "key": "0:contains",
        "passed": False,
        "passes": 0,
        "applied": 2,
        "detail": "missing 'x'",
        "score": None,
    }


def test_a_regression_shows_in_the_diff_table_and_fails_the_report() -> None:
    before, after = scenario_result(cost=0.001), scenario_result(cost=0.002)
    report = Report("dev", "core", "realtime", [after])
    report.diff = compare([after], saved(before), {"set": Tolerances()})
    assert not report.ok
    row = next(line for line in report.table().splitlines() if "cost_usd" in line)
    assert row.split() == ["set/s1", "cost_usd", "0.001", "0.002", "<=", "0.0011", "(+10%)", "REGRESSED"]
    assert "| set/s1 | cost_usd | 0.001 | 0.002 | <= 0.0011 (+10%) | REGRESSED |" in report.markdown()
    assert report.to_json()["summary"]["regressions"] == 1


def test_errors_are_counted_and_summarized() -> None:
    result = scenario_result(errors=1)
    report = Report("dev", "core", "realtime", [result])
    assert result.metrics().error_rate == 0.5
    assert "set/s1: 1/2 runs failed: overloaded_error: Overloaded" in report.table()


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert (percentile(values, 50), percentile(values, 95), percentile([7.0], 95)) == (10.0, 19.0, 7.0)
    assert percentile([], 95) is None
