"""The spend switch and the user quota table in the local stack, as infra/constructs/spend_guard.py and
infra/constructs/user_quota.py create them, so `make local` refuses calls exactly as a deployment does.

The chat reads the switch as deployed: at most once per `KIT_SPEND_SWITCH_MAX_AGE_SECONDS` (30 s by default)
per process. For a switch that takes effect on the very next request, start the stack with
`KIT_SPEND_SWITCH_MAX_AGE_SECONDS=0` (the tests do).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from claude_kit import contract
from claude_kit.contract import Env
from infra.function_environment import quota_environment
from local.context import create_table

if TYPE_CHECKING:
    from local.context import LocalContext


def create_quota_table(dynamodb: Any, name: str) -> None:
    create_table(dynamodb, name, contract.USER_QUOTA_TABLE)


def spend_guard_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The guard function's settings, as infra/constructs/spend_guard.py gives them: the switch, and the
    consumers' event source mappings (made by local/batch_queues.py) to pause while it is closed."""
    from local.batch_queues import QUEUES_VARIABLE

    mappings = [queue["mapping_uuid"] for queue in json.loads(env.get(QUEUES_VARIABLE, "[]"))]
    return {
        **env,
        Env.BATCH_CONSUMER_MAPPINGS: json.dumps([uuid for uuid in mappings if uuid]),
    }


def provision_guardrails(context: LocalContext) -> Mapping[str, str]:
    """An open spend switch and the quota table, with the settings the constructs give the chat function."""
    parameter = contract.switch_parameter_name(context.env_name)
    context.client("ssm").put_parameter(
        Name=parameter, Type="String", Value=json.dumps({"state": "open", "reason": "created by make local"})
    )
    table = contract.quota_table_name(context.env_name)
    create_quota_table(context.client("dynamodb"), table)
    return {
        Env.SPEND_SWITCH_PARAMETER: parameter,
        Env.QUOTA_TABLE: table,
        **quota_environment(context.config.alerts),
    }
