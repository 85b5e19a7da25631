"""A run as people read it (a terminal table; Markdown for a pull-request comment) and as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.evals.baseline import DiffRow
from ops.evals.results import ScenarioResult

_COLUMNS = ("scenario", "result", "runs", "err", "in tok", "out tok", "cost/run", "p50 ms", "p95 ms", "judge")


@dataclass
class Report:
    environment: str
    target: str
    mode: str
    results: list[ScenarioResult]
    #: None: no baseline was compared (none saved, or this run saved one).
    diff: list[DiffRow] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[ScenarioResult]:
        return [result for result in self.results if not result.passed]

    @property
    def regressions(self) -> list[DiffRow]:
        return [row for row in self.diff or () if row.regressed]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.regressions

    def total_cost(self) -> float:
        total = 0.0
        for result in self.results:
            total += sum(run.answer.cost_usd or 0.0 for run in result.runs if run.answer is not None)
            total += result.metrics().judge_cost_usd
        return total

    def summary_line(self) -> str:
        passed = len(self.results) - len(self.failed)
        gate = "not compared" if self.diff is None else f"{len(self.regressions)} regression(s)"
        return (
            f"{passed}/{len(self.results)} scenarios passed, baseline: {gate}, "
            f"cost ${self.total_cost():.4f} (answers and judge), target {self.target}, {self.mode} mode"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "target": self.target,
            "mode": self.mode,
            "ok": self.ok,
            "summary": {
                "scenarios": len(self.results),
                "passed": len(self.results) - len(self.failed),
                "failed": len(self.failed),
                "regressions": len(self.regressions),
                "cost_usd": self.total_cost(),
            },
            "scenarios": [result.to_json() for result in self.results],
            "gate": None if self.diff is None else [row.to_json() for row in self.diff],
            "notes": self.notes,
        }

    def table(self) -> str:
        lines = [_grid(_COLUMNS, [_row(result) for result in self.results])]
        failures = _failures(self.results)
        if failures:
            lines += ["", "Failed checks:"] + [f"  {line}" for line in failures]
        if self.diff:
            changed = _changed(self.diff)
            lines += [
                "",
                f"Compared with the baseline ({len(self.diff) - len(changed)} unchanged figures not shown):",
            ]
            lines.append(_grid(_DIFF_COLUMNS, _diff_rows(changed)) if changed else "  nothing changed")
        lines += [*(f"note: {note}" for note in self.notes), "", self.summary_line()]
        return "\n".join(lines)

    def markdown(self) -> str:
        verdict = "✅ passed" if self.ok else "❌ failed"
        lines = [
            f"### Claude evals: {verdict} ({self.environment})",
            "",
            self.summary_line(),
            "",
            _md(_COLUMNS, [_row(result) for result in self.results]),
        ]
        failures = _failures(self.results)
        if failures:
            lines += ["", "<details open><summary>Failed checks</summary>", ""]
            lines += [f"- {_escape(line)}" for line in failures] + ["", "</details>"]
        if self.diff:
            changed = _changed(self.diff)
            lines += ["", "#### Compared with the baseline", ""]
            lines.append(_md(_DIFF_COLUMNS, _diff_rows(changed)) if changed else "No figure changed.")
        lines += [f"> {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


_DIFF_COLUMNS = ("scenario", "figure", "baseline", "now", "allowed", "verdict")


def _row(result: ScenarioResult) -> list[str]:
    m = result.metrics()
    return [
        result.key,
        "PASS" if result.passed else "FAIL",
        str(m.runs),
        str(m.errors),
        _num(m.input_tokens, ".0f"),
        _num(m.output_tokens, ".0f"),
        "-" if m.cost_usd is None else f"${m.cost_usd:.5f}",
        _num(m.latency_p50_ms, ".0f"),
        _num(m.latency_p95_ms, ".0f"),
        _num(m.judge_score, ".1f"),
    ]


def _failures(results: Sequence[ScenarioResult]) -> list[str]:
    lines = []
    for result in results:
        if error := result.first_error():
            errors = result.metrics().errors
            lines.append(f"{result.key}: {errors}/{len(result.runs)} runs failed: {error}")
        for check in result.checks():
            if check.passed is False:
                lines.append(
                    f"{result.key} {check.key}: {check.detail} ({check.passes}/{check.applied} runs passed)"
                )
    return lines


def _changed(rows: Sequence[DiffRow]) -> list[DiffRow]:
    return [row for row in rows if row.regressed or row.baseline != row.current]


def _diff_rows(rows: Sequence[DiffRow]) -> list[list[str]]:
    return [
        [row.scenario, row.metric, _value(row.baseline), _value(row.current), row.allowed, _verdict(row)]
        for row in rows
    ]


def _verdict(row: DiffRow) -> str:
    if row.regressed:
        return "REGRESSED"
    return "ok" if row.baseline is not None else "new"


def _value(value: float | bool | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "pass" if value else "fail"
    return f"{value:.6g}"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    numeric = {index for index in range(len(headers)) if index >= 2}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if index in numeric else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in rows)])


def _md(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(_escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
