"""Readiness items and the three ways they are shown: a terminal table, Markdown for a pull request, JSON."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"  # noqa: S105  (a status, not a password)
    WARN = "warn"
    FAIL = "fail"


class Dimension(StrEnum):
    SECURITY = "Security"
    RELIABILITY = "Reliability"
    COST = "Cost control"
    OBSERVABILITY = "Observability"
    SCALABILITY = "Scalability"
    RELEASE = "Release"


@dataclass(frozen=True)
class Item:
    """One check: `evidence` names the resource or setting it read; `fix` is one line (empty on a pass)."""

    id: str
    dimension: Dimension
    title: str
    status: Status
    evidence: str
    fix: str = ""
    live: bool = False


@dataclass(frozen=True)
class Report:
    env_name: str
    items: Sequence[Item]
    live: bool

    @property
    def failed(self) -> bool:
        return any(item.status is Status.FAIL for item in self.items)

    def counts(self) -> dict[Status, int]:
        return {status: sum(item.status is status for item in self.items) for status in Status}

    def summary(self) -> str:
        counts = self.counts()
        verdict = "NOT READY" if self.failed else "ready"
        parts = ", ".join(f"{counts[status]} {status.value}" for status in Status)
        return f"{self.env_name}: {verdict} ({parts}; {len(self.items)} items{', live' if self.live else ''})"


_MARK = {Status.PASS: "✅ pass", Status.WARN: "⚠️ warn", Status.FAIL: "❌ fail"}


def render_json(report: Report) -> str:
    return json.dumps(
        {
            "environment": report.env_name,
            "ready": not report.failed,
            "live": report.live,
            "counts": {status.value: count for status, count in report.counts().items()},
            "items": [{**asdict(item), "dimension": item.dimension.value} for item in report.items],
        },
        indent=2,
    )


def render_markdown(report: Report) -> str:
    lines = [
        f"### Production readiness: `{report.env_name}`",
        "",
        f"**{report.summary()}**",
        "",
        "| status | dimension | item | evidence | fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in report.items:
        cells = (_MARK[item.status], item.dimension.value, item.title, item.evidence, item.fix or "")
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_table(report: Report, *, width: int | None = None) -> str:
    """Status, dimension and item in columns; evidence (and the fix, when not a pass) wrapped beneath."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    title_width = max(len(item.title) for item in report.items) if report.items else 10
    dimension_width = max(len(dimension.value) for dimension in Dimension)
    header = f"{'STATUS':<6}  {'DIMENSION':<{dimension_width}}  {'ITEM':<{title_width}}"
    lines = [header, "-" * len(header)]
    indent = " " * 8
    wrap = max(width - len(indent), 40)
    for item in report.items:
        lines.append(
            f"{item.status.value.upper():<6}  {item.dimension.value:<{dimension_width}}  {item.title}"
        )
        lines.extend(
            textwrap.wrap(
                item.evidence, wrap, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
            )
        )
        if item.fix:
            lines.extend(
                textwrap.wrap(
                    f"fix: {item.fix}", wrap, initial_indent=indent, subsequent_indent=indent + "     "
                )
            )
    lines.extend(["", report.summary()])
    return "\n".join(lines)
