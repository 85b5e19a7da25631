"""`bin/kit spend-guard status|close|reopen`: the environment's spend switch, changed by its guard function.

Deployed, the command invokes `claude-kit-<env>-spend-guard` (you need `lambda:InvokeFunction` on it), so the
switch, the batch consumers and the alarms change exactly as when an alarm fires, logged with your identity.
Locally there is no Lambda service: the same handler runs in this process with the settings the local stack
gives its guard (`.local/stack.json`), acting on moto's switch parameter and event source mappings, which the
local chat and batch consumers honour as deployed ones do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from claude_kit import contract
from claude_kit.contract import Env
from ops import console
from ops.errors import OperatorError
from ops.target import Target

if TYPE_CHECKING:
    from spend_guard.handler import GuardCommand

#: The local stack's name for its guard's settings in `.local/stack.json`.
LOCAL_GUARD = "spend-guard"


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    guard = commands.add_parser("spend-guard", help="the environment's spend switch")
    actions = guard.add_subparsers(dest="action", required=True)
    for action, text in (
        ("status", "show whether Claude calls are allowed, and why"),
        ("close", "stop Claude calls and pause the batch consumers"),
        ("reopen", "allow Claude calls again and resume the batch consumers"),
    ):
        command = actions.add_parser(action, parents=[common], help=text)
        if action != "status":
            command.add_argument("--reason", default="operator request", help="recorded with the change")
        command.set_defaults(run=run)
    actions.choices["reopen"].add_argument(
        "--rearm",
        action="store_true",
        help="also set the cost alarms back to OK, so they close the switch again if spend is still too high",
    )


def run(args: argparse.Namespace, *, lambda_client: Any = None, sts_client: Any = None) -> int:
    target: Target = args.target
    if target.local:
        body, failed = invoke_locally(
            target, _command(args, requested_by=f"cli:{os.environ.get('USER', 'local')}")
        )
    else:
        import boto3

        identity = (sts_client or boto3.client("sts")).get_caller_identity()["Arn"]
        command = _command(args, requested_by=f"cli:{identity}")
        response = (lambda_client or boto3.client("lambda")).invoke(
            FunctionName=contract.guard_function_name(target.env_name),
            Payload=command.model_dump_json().encode(),
        )
        body, failed = json.loads(response["Payload"].read() or b"null"), "FunctionError" in response
    if args.json or failed:
        console.print_json(body)
    else:
        _print(body)
    return 1 if failed else 0


def _command(args: argparse.Namespace, *, requested_by: str) -> GuardCommand:
    from spend_guard.handler import GuardCommand  # Powertools and X-Ray: only for this command

    return GuardCommand(
        action=args.action,
        reason=getattr(args, "reason", "status"),
        requested_by=requested_by,
        rearm_alarms=getattr(args, "rearm", False),
    )


def invoke_locally(target: Target, command: GuardCommand) -> tuple[dict[str, Any], bool]:
    """The guard's handler, run here with its local settings (no Lambda service on the local stack)."""
    env = target.functions.get(LOCAL_GUARD)
    if env is None:
        raise OperatorError("this local stack has no spend guard settings: restart it with `make local`")
    return _invoke_handler(env, command.model_dump(mode="json")), False


def _invoke_handler(env: Mapping[str, str], event: dict[str, Any]) -> dict[str, Any]:
    from claude_kit import aws
    from claude_kit.observability import logger
    from local.batch_queues import LocalLambdaContext
    from spend_guard import handler, settings

    level = logger.log_level
    with patch.dict(os.environ, env):
        aws.reset()
        handler.get_spend_guard.cache_clear()
        settings.get_guard_settings.cache_clear()
        logger.setLevel(
            logging.ERROR
        )  # its audit lines belong in a log group; here they would bury the answer
        try:
            context = LocalLambdaContext.new(contract.guard_function_name(env.get(Env.ENV_NAME, "local")))
            outcome: dict[str, Any] = handler.handler(event, context)
            return outcome
        finally:
            logger.setLevel(level)
            handler.get_spend_guard.cache_clear()
            settings.get_guard_settings.cache_clear()
            aws.reset()


def _print(body: dict[str, Any]) -> None:
    for outcome in body.get("outcomes", []):
        state = outcome.get("state") or {}
        if state:
            console.say(f"spend switch: {state.get('state', '?').upper()}")
            console.say(f"  reason:     {state.get('reason') or '-'}")
            console.say(f"  changed by: {state.get('changed_by') or '-'} at {state.get('changed_at') or '-'}")
        if outcome.get("action") not in (None, "unchanged"):
            console.say(f"action: {outcome['action']} ({outcome.get('detail', '')})")
            console.say("functions calling Claude read the switch at most every 30 s: they follow within it")
        if changed := outcome.get("mappings_changed"):
            console.say(f"batch consumers changed: {len(changed)}")
