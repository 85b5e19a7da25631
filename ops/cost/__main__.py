"""`bin/kit cost-estimate --env ENV [--calls-per-day N] [--batch-items-per-day M] [--json]`.

Prints the environment's monthly AWS cost at that traffic (idle when both are 0), line by line, then the AWS
cost of one million chat calls and of one million batch items next to what Claude charges for the same calls.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from claude_kit.calls import Usage
from claude_kit.pricing import load_price_table
from infra.config import EnvironmentConfig
from ops.cost.data_files import AwsPrices, Workload, load_prices, load_workload
from ops.cost.estimate import FIXED_ONCE_ACTIVE, Estimate, Part, Traffic, estimate
from ops.cost.telemetry_size import TelemetrySize, measure

MILLION = 1_000_000


@dataclass(frozen=True)
class PerMillion:
    """AWS and Claude cost of one million chat calls (or batch items), the fixed custom metrics left out."""

    aws_usd: float
    claude_usd: float
    largest_aws_item: str


def per_million(
    templates: Sequence[dict[str, Any]],
    config: EnvironmentConfig,
    *,
    part: Part,
    prices: AwsPrices,
    workload: Workload,
    size: TelemetrySize,
) -> PerMillion:
    per_day = MILLION / (workload.hours_per_month / 24)
    traffic = Traffic(calls_per_day=per_day) if part == "chat" else Traffic(batch_items_per_day=per_day)
    result = estimate(templates, prices=prices, workload=workload, size=size, traffic=traffic)
    lines = [
        line for line in result.lines if line.part == part and not line.item.startswith(FIXED_ONCE_ACTIVE)
    ]
    figures = workload.chat_call if part == "chat" else workload.batch_item
    usage = Usage(
        input_tokens=int(figures["input_tokens"].value), output_tokens=int(figures["output_tokens"].value)
    )
    table = load_price_table(config.claude.price_overrides)
    claude = table.cost(config.claude.model, usage, batch=part == "batch") or 0.0
    largest = max(lines, key=lambda line: line.usd).item if lines else "-"
    return PerMillion(sum(line.usd for line in lines), claude * MILLION, largest)


def render(
    env_name: str,
    config: EnvironmentConfig,
    result: Estimate,
    traffic: Traffic,
    prices: AwsPrices,
    chat: PerMillion,
    batch: PerMillion,
    workload: Workload,
) -> str:
    lines = [
        f"claude-kit-{env_name}: monthly AWS cost estimate ({prices.region} list prices as of "
        f"{prices.as_of}, before the free tier; {traffic.calls_per_day:g} chat calls/day, "
        f"{traffic.batch_items_per_day:g} batch items/day)",
        "",
        f"{'PART':<6} {'ITEM':<52} {'QUANTITY':>14} {'UNIT':<14} {'USD/MONTH':>10}",
    ]
    for line in result.lines:
        lines.append(
            f"{line.part:<6} {line.item:<52} {line.quantity:>14,.1f} {line.unit:<14} {line.usd:>10.2f}"
        )
    lines += [
        "",
        f"idle {result.total('idle'):.2f} + chat {result.total('chat'):.2f} + batch "
        f"{result.total('batch'):.2f} = {result.total():.2f} USD per month on AWS",
        "",
        f"Per 1M chat calls ({workload.chat('input_tokens'):g} in / {workload.chat('output_tokens'):g} "
        f"out tokens, {config.claude.model}): AWS {chat.aws_usd:,.2f} USD "
        f"(largest: {chat.largest_aws_item}), "
        f"Claude {chat.claude_usd:,.2f} USD",
        f"Per 1M batch items (Message Batches, half price): AWS {batch.aws_usd:,.2f} USD "
        f"(largest: {batch.largest_aws_item}), Claude {batch.claude_usd:,.2f} USD",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bin/kit cost-estimate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="environment name in cdk.json")
    parser.add_argument("--calls-per-day", type=float, default=0, help="chat calls per day (default 0: idle)")
    parser.add_argument("--batch-items-per-day", type=float, default=0, help="batch work items per day")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.calls_per_day < 0 or args.batch_items_per_day < 0:
        parser.error("--calls-per-day and --batch-items-per-day cannot be negative")

    # The CDK loads in seconds: not before the arguments are checked.
    from ops.synthesis import synthesize_for_operator

    if (synthesized := synthesize_for_operator(args.env)) is None:
        return 2
    prices, workload = load_prices(), load_workload()
    size = measure(model=synthesized.config.claude.model)
    templates = list(synthesized.templates.values())
    traffic = Traffic(calls_per_day=args.calls_per_day, batch_items_per_day=args.batch_items_per_day)
    result = estimate(templates, prices=prices, workload=workload, size=size, traffic=traffic)
    chat, batch = (
        per_million(templates, synthesized.config, part=part, prices=prices, workload=workload, size=size)
        for part in ("chat", "batch")
    )
    if args.json:
        document = {
            "environment": args.env,
            "prices_as_of": str(prices.as_of),
            "region": prices.region,
            "traffic": asdict(traffic),
            "telemetry_bytes_per_call": size.bytes_per_call,
            "lines": [asdict(line) for line in result.lines],
            "monthly_usd": {part: result.total(part) for part in ("idle", "chat", "batch")}
            | {"total": result.total()},
            "per_million_chat_calls": asdict(chat),
            "per_million_batch_items": asdict(batch),
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(
            render(args.env, synthesized.config, result, traffic, prices, chat, batch, workload) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
