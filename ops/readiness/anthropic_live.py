"""The live item only Anthropic can answer: the spend limit set on the environment's Anthropic workspace.

Read through the Admin API's spend limits endpoint (`GET /v1/organizations/spend_limits`, beta
`spend-limit-reads-2026-09-26`, an early-access preview for Console organizations) with an Admin API key kept
in its own Secrets Manager secret (`claude.admin_key_secret_name`), and compared with the limit attested in
cdk.json (`claude.workspace_spend_limit_usd`). Anything that prevents the read is reported as not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
from botocore.exceptions import BotoCoreError, ClientError

from infra.config import EnvironmentConfig
from ops.readiness.report import Dimension, Item, Status

CHECK_ID, TITLE = "anthropic-spend-limit-live", "Anthropic workspace spend limit, as Anthropic reports it"
AdminClientFactory = Callable[[str], anthropic.Anthropic]


def admin_client(admin_key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=admin_key, max_retries=1, timeout=15)


def _item(status: Status, evidence: str, fix: str = "") -> Item:
    return Item(CHECK_ID, Dimension.SECURITY, TITLE, status, evidence, fix, live=True)


def _not_checked(reason: str) -> Item:
    return _item(
        Status.WARN,
        f"not checked: {reason}",
        "set claude.workspace_id and claude.admin_key_secret_name, or rely on the attestation",
    )


def workspace_spend_limit(
    config: EnvironmentConfig, session: Any, *, client_factory: AdminClientFactory = admin_client
) -> Item:
    claude = config.claude
    if claude.workspace_id is None or claude.admin_key_secret_name is None:
        return _not_checked("claude.workspace_id and claude.admin_key_secret_name are not set")
    try:
        secrets = session.client("secretsmanager", region_name=config.region)
        admin_key = secrets.get_secret_value(SecretId=claude.admin_key_secret_name)["SecretString"]
    except (BotoCoreError, ClientError) as exc:
        return _not_checked(f"cannot read {claude.admin_key_secret_name} ({type(exc).__name__})")
    try:
        limits = client_factory(admin_key).beta.organization.spend_limits.list(
            scope_type=["workspace"], workspace_id=claude.workspace_id
        )
        monthly = [
            limit
            for limit in limits
            if limit.period == "monthly" and limit.amount is not None and limit.is_enabled
        ]
    except anthropic.APIStatusError as exc:
        return _not_checked(f"the Admin API answered {exc.status_code} ({exc.type or 'error'})")
    except anthropic.APIError as exc:
        return _not_checked(f"the Admin API could not be reached ({type(exc).__name__})")
    if not monthly:
        return _item(
            Status.FAIL,
            f"Anthropic reports no monthly spend limit on workspace {claude.workspace_id}",
            "set one in the Anthropic Console (Workspaces → Limits)",
        )
    reported = int(monthly[0].amount or 0) / 100
    currency = monthly[0].currency
    attested = claude.workspace_spend_limit_usd
    if attested is None or currency != "USD" or abs(reported - attested) >= 0.01:
        return _item(
            Status.FAIL,
            f"Anthropic reports {reported:g} {currency} per month on {claude.workspace_id}; "
            f"cdk.json attests {attested}",
            f"set claude.workspace_spend_limit_usd to {reported:g}",
        )
    return _item(Status.PASS, f"{reported:g} USD per month on {claude.workspace_id}, as attested in cdk.json")
