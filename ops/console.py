"""Output of the operator commands: tables and progress for people (rich), JSON for programs.

Results go to stdout, progress and the "acting on …" line to stderr, so `bin/kit results … --json | jq` works.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table


def out() -> Console:
    """Built per call: tests swap sys.stdout (capsys), and rich binds the stream it was given."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def err() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def say(line: str = "") -> None:
    out().print(line, markup=False)


def note(line: str) -> None:
    """A side remark for people (which environment, what is happening): stderr."""
    err().print(line, markup=False, style="dim")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    view = Table(title=title, title_justify="left", show_edge=False)
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*("" if cell is None else str(cell) for cell in row))
    out().print(view)


def progress() -> Progress:
    """A bar on stderr while it is a terminal; nothing at all otherwise (pipes, CI logs)."""
    console = err()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )
