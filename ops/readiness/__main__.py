"""`bin/kit readiness --env ENV [--live] [--format table|markdown|json]`: exit 1 on a fail, 2 on bad input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ops.readiness.report import Dimension, Report, render_json, render_markdown, render_table

if TYPE_CHECKING:
    from ops.synthesis import SynthesizedEnvironment

RENDERERS = {"table": render_table, "markdown": render_markdown, "json": render_json}


def evaluate(synthesized: SynthesizedEnvironment, *, live: bool = False) -> Report:
    """Every offline item, plus the live ones when asked, grouped by dimension in a fixed order."""
    from ops.readiness.checks import offline_items
    from ops.readiness.live import live_items
    from ops.readiness.template_view import TemplateView

    items = offline_items(synthesized)
    if live:
        items += live_items(TemplateView(synthesized))
    order = list(Dimension)
    items.sort(key=lambda item: order.index(item.dimension))
    return Report(env_name=synthesized.env_name, items=items, live=live)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bin/kit readiness",
        description="Is an environment ready for production? Judged from cdk.json and the templates.",
    )
    parser.add_argument("--env", required=True, help="environment name in cdk.json (dev, staging, prod ...)")
    parser.add_argument("--live", action="store_true", help="also ask AWS (your credentials; read-only)")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The CDK (and its Node.js process) only once there is something to synthesize: `--help` stays instant.
    from ops.synthesis import synthesize_for_operator

    if (synthesized := synthesize_for_operator(args.env)) is None:
        return 2
    report = evaluate(synthesized, live=args.live)
    sys.stdout.write(RENDERERS[args.format](report) + "\n")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
