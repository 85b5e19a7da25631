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

from local.context import create_table

if TYPE_CHECKING:
    from local.context import LocalContext


def switch_parameter_name(env_name: str) -> str:
    return f"/claude-kit/{env_name}/spend-switch"


def quota_table_name(env_name: str) -> str:
    return f"claude-kit-{env_name}-user-quota"


def create_quota_table(dynamodb: Any, name: str) -> None:
    """Keys and TTL attribute as the construct declares them (`dynamodb` is a boto3 client)."""
    create_table(dynamodb, name, key=[("user_id", "S"), ("day", "S")])


def spend_guard_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The guard function's settings, as infra/constructs/spend_guard.py gives them: the switch, and the
    consumers' event source mappings (made by local/batch_queues.py) to pause while it is closed."""
    from local.batch_queues import QUEUES_VARIABLE

    mappings = [queue["mapping_uuid"] for queue in json.loads(env.get(QUEUES_VARIABLE, "[]"))]
    return {
        **env,
        "KIT_BATCH_CONSUMER_MAPPINGS": json.dumps([uuid for uuid in mappings if uuid]),
        "KIT_FUNCTION_NAME": f"claude-kit-{env.get('KIT_ENV_NAME', 'local')}-spend-guard",
    }


def provision_guardrails(context: LocalContext) -> Mapping[str, str]:
    """An open spend switch and the quota table, with the settings the constructs give the chat function."""
    alerts = context.config.alerts
    parameter = switch_parameter_name(context.env_name)
    context.client("ssm").put_parameter(
        Name=parameter, Type="String", Value=json.dumps({"state": "open", "reason": "created by make local"})
    )
    table = quota_table_name(context.env_name)
    create_quota_table(context.client("dynamodb"), table)
    env = {
        "KIT_SPEND_SWITCH_PARAMETER": parameter,
        "KIT_QUOTA_TABLE": table,
    }
    if alerts.user_daily_usd_allowance is not None:
        env["KIT_USER_DAILY_USD_ALLOWANCE"] = str(alerts.user_daily_usd_allowance)
    if alerts.user_daily_token_allowance is not None:
        env["KIT_USER_DAILY_TOKEN_ALLOWANCE"] = str(alerts.user_daily_token_allowance)
    return env
