"""Operator commands for an environment's spend switch, run with your own AWS credentials:

    python -m spend_guard.cli status --env dev
    python -m spend_guard.cli reopen --env dev [--reason "budget raised"] [--rearm]
    python -m spend_guard.cli close  --env dev --reason "investigating a cost spike"

Each command invokes the environment's guard function (`claude-kit-<env>-spend-guard`), so the switch, the
batch consumers and the alarms change exactly as they do when an alarm fires, with the same permissions, and
the change is logged in the guard's log group with your identity. You only need `lambda:InvokeFunction` on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from spend_guard.handler import GuardCommand


def function_name(env_name: str) -> str:
    """The guard function's name; infra/constructs/spend_guard.py names it the same way."""
    return f"claude-kit-{env_name}-spend-guard"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spend_guard.cli", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="action", required=True)
    for action, text in (
        ("status", "show whether Claude calls are allowed, and why"),
        ("close", "stop Claude calls and pause the batch consumers"),
        ("reopen", "allow Claude calls again and resume the batch consumers"),
    ):
        command = commands.add_parser(action, help=text)
        command.add_argument("--env", required=True, help="environment name, as in cdk.json")
        if action != "status":
            command.add_argument("--reason", default="operator request", help="recorded with the change")
    commands.choices["reopen"].add_argument(
        "--rearm",
        action="store_true",
        help="also set the cost alarms back to OK, so they close the switch again if spend is still too high",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, lambda_client: Any = None, sts_client: Any = None) -> int:
    args = _parser().parse_args(argv)
    import boto3

    identity = (sts_client or boto3.client("sts")).get_caller_identity()["Arn"]
    command = GuardCommand(
        action=args.action,
        reason=getattr(args, "reason", "status"),
        requested_by=f"cli:{identity}",
        rearm_alarms=getattr(args, "rearm", False),
    )
    response = (lambda_client or boto3.client("lambda")).invoke(
        FunctionName=function_name(args.env), Payload=command.model_dump_json().encode()
    )
    body = json.loads(response["Payload"].read() or b"null")
    sys.stdout.write(json.dumps(body, indent=2) + "\n")
    return 1 if "FunctionError" in response else 0


if __name__ == "__main__":
    sys.exit(main())
