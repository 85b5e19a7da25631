"""`bin/kit usage` and `bin/kit quota set|show`: what users spent, and their daily allowances.

Both read and write the per-user quota table that `claude_kit.guardrails.UserQuotaGuard` keeps: one item per
user per UTC day (`spent_usd`, `spent_tokens`, `calls`, and `committed_usd` for calls in flight) and one
`allowance` item per user whose allowance differs from the environment's default.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from claude_kit import contract
from claude_kit.aws import dynamodb_table
from claude_kit.contract import Env
from ops import console
from ops.errors import OperatorError
from ops.target import ROOT, Target


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    usage = commands.add_parser(
        "usage", parents=[common], help="cost, tokens and calls per user and model for a day"
    )
    usage.add_argument("--day", type=_day, default=None, help="YYYY-MM-DD, UTC (default: today)")
    usage.set_defaults(run=_usage)

    quota = commands.add_parser("quota", help="per-user daily allowances")
    actions = quota.add_subparsers(dest="quota_action", required=True)
    set_ = actions.add_parser("set", parents=[common], help="give USER its own daily allowance")
    set_.add_argument("user")
    set_.add_argument("--daily-usd", type=float, help="USD per UTC day")
    set_.add_argument("--daily-tokens", type=int, help="tokens per UTC day")
    set_.set_defaults(run=_quota_set)
    show = actions.add_parser(
        "show", parents=[common], help="USER's allowance and today's use (or all overrides)"
    )
    show.add_argument("user", nargs="?")
    show.set_defaults(run=_quota_show)


OVERRIDE_KEY = contract.QUOTA_OVERRIDE_DAY
USER_ID, DAY = contract.USER_QUOTA_TABLE.key_names


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def _table(target: Target) -> Any:
    return dynamodb_table(os.environ.get(Env.QUOTA_TABLE) or contract.quota_table_name(target.env_name))


def _scan(table: Any, day: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Attr

    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"FilterExpression": Attr(DAY).eq(day)}
    while True:
        page = table.scan(**query)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _number(value: Any) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else 0.0


def _usage(args: argparse.Namespace) -> int:
    day = (args.day or datetime.now(UTC).date()).isoformat()
    items = sorted(_scan(_table(args.target), day), key=lambda item: -_number(item.get("spent_usd")))
    rows = [
        {
            "user_id": item[USER_ID],
            "calls": int(_number(item.get("calls"))),
            "tokens": int(_number(item.get("spent_tokens"))),
            "cost_usd": round(_number(item.get("spent_usd")), 6),
            "in_flight_usd": round(_number(item.get("committed_usd")) - _number(item.get("spent_usd")), 6),
            "models": _by_model(item),
        }
        for item in items
    ]
    if args.json:
        console.print_json({"day": day, "users": rows})
        return 0
    if not rows:
        console.say(f"no usage recorded on {day} (UTC) in environment {args.target.env_name!r}")
        return 0
    console.table(
        f"usage on {day} (UTC), environment {args.target.env_name!r}",
        ("user", "calls", "tokens", "cost USD", "in flight USD"),
        (
            (r["user_id"], r["calls"], r["tokens"], f"{r['cost_usd']:.6f}", f"{r['in_flight_usd']:.6f}")
            for r in rows
        ),
    )
    console.table(
        "by user and model (billed attempts; possibly billed timeouts count in the user's total only)",
        ("user", "model", "calls", "tokens", "cost USD"),
        (
            (r["user_id"], model, m["calls"], m["tokens"], f"{m['cost_usd']:.6f}")
            for r in rows
            for model, m in r["models"].items()
        ),
    )
    total = sum(row["cost_usd"] for row in rows)
    console.say(f"total: {sum(r['calls'] for r in rows)} calls, {total:.6f} USD")
    return 0


def _by_model(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The usage item's per-model totals (`usd:<model>`, `tokens:<model>`, `calls:<model>`)."""
    from claude_kit.user_quota import MODEL_CALLS, MODEL_TOKENS, MODEL_USD

    models = sorted(name.removeprefix(MODEL_USD) for name in item if name.startswith(MODEL_USD))
    return {
        model: {
            "calls": int(_number(item.get(MODEL_CALLS + model))),
            "tokens": int(_number(item.get(MODEL_TOKENS + model))),
            "cost_usd": round(_number(item.get(MODEL_USD + model)), 6),
        }
        for model in models
    }


def _quota_set(args: argparse.Namespace) -> int:
    if args.daily_usd is None and args.daily_tokens is None:
        raise OperatorError("say what to allow: --daily-usd X and/or --daily-tokens N")
    if (args.daily_usd is not None and args.daily_usd <= 0) or (
        args.daily_tokens is not None and args.daily_tokens <= 0
    ):
        raise OperatorError("allowances must be positive")
    values: dict[str, Any] = {}
    if args.daily_usd is not None:
        values["daily_usd"] = Decimal(str(args.daily_usd))
    if args.daily_tokens is not None:
        values["daily_tokens"] = args.daily_tokens
    _table(args.target).update_item(
        Key={USER_ID: args.user, DAY: OVERRIDE_KEY},
        UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in values),
        ExpressionAttributeValues={f":{name}": value for name, value in values.items()},
    )
    if args.json:
        console.print_json({"user_id": args.user, **{k: float(v) for k, v in values.items()}})
    else:
        console.say(
            f"{args.user}: daily allowance set ({_describe(values)}); functions pick it up within a minute"
        )
    return 0


def _quota_show(args: argparse.Namespace) -> int:
    table = _table(args.target)
    if args.user is None:
        overrides = _scan(table, OVERRIDE_KEY)
        rows = [
            {"user_id": o[USER_ID], "daily_usd": o.get("daily_usd"), "daily_tokens": o.get("daily_tokens")}
            for o in overrides
        ]
        if args.json:
            console.print_json({"default": _default(args.target), "overrides": rows})
            return 0
        console.say(f"default allowance: {_describe(_default(args.target))}")
        console.table(
            "users with their own allowance",
            ("user", "daily USD", "daily tokens"),
            ((r["user_id"], r["daily_usd"], r["daily_tokens"]) for r in rows),
        )
        return 0
    override = table.get_item(Key={USER_ID: args.user, DAY: OVERRIDE_KEY}).get("Item", {})
    today = datetime.now(UTC).date().isoformat()
    used = table.get_item(Key={USER_ID: args.user, DAY: today}).get("Item", {})
    allowance = {k: override[k] for k in ("daily_usd", "daily_tokens") if k in override} or _default(
        args.target
    )
    result = {
        "user_id": args.user,
        "allowance": {k: float(v) for k, v in allowance.items()},
        "allowance_source": "user" if override else "environment default",
        "day": today,
        "spent_usd": _number(used.get("spent_usd")),
        "spent_tokens": int(_number(used.get("spent_tokens"))),
        "calls": int(_number(used.get("calls"))),
    }
    if args.json:
        console.print_json(result)
        return 0
    console.say(f"{args.user}: allowance {_describe(allowance)} ({result['allowance_source']})")
    console.say(
        f"  today ({today} UTC): {result['calls']} calls, {result['spent_tokens']} tokens, "
        f"{result['spent_usd']:.6f} USD"
    )
    return 0


def _default(target: Target) -> dict[str, Any]:
    """The environment's default allowance: the local stack's settings, or cdk.json's for a deployed one."""
    if target.local:
        names = {
            "daily_usd": Env.USER_DAILY_USD_ALLOWANCE,
            "daily_tokens": Env.USER_DAILY_TOKEN_ALLOWANCE,
        }
        return {key: float(os.environ[name]) for key, name in names.items() if os.environ.get(name)}
    from infra.config import ConfigError, load_environment

    try:
        environments = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"]
        alerts = load_environment(environments, target.env_name).alerts
    except (OSError, KeyError, ConfigError):
        return {}
    values: dict[str, float | None] = {
        "daily_usd": alerts.user_daily_usd_allowance,
        "daily_tokens": alerts.user_daily_token_allowance,
    }
    return {k: float(v) for k, v in values.items() if v is not None}


def _describe(values: dict[str, Any]) -> str:
    parts = []
    if values.get("daily_usd") is not None:
        parts.append(f"{float(values['daily_usd']):g} USD/day")
    if values.get("daily_tokens") is not None:
        parts.append(f"{int(values['daily_tokens'])} tokens/day")
    return ", ".join(parts) or "unlimited"
