"""The readiness items only AWS can answer (`--live`): read-only calls with the operator's credentials.

Nothing here reads a secret's value: whether the API key was stored is told by the secret's versions. An item
whose AWS call fails (no credentials, no permission, an endpoint that does not answer) says so and is a warn:
it was not checked, which is not the same as passing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from claude_kit import contract
from claude_kit.contract import Env
from infra.constructs.cost_alarms import BILLING_REGION
from ops.readiness.anthropic_live import workspace_spend_limit
from ops.readiness.report import Dimension, Item, Status
from ops.readiness.template_view import TemplateView

#: Cost allocation tag the stack puts on every resource (infra/stack.py), which a budget can filter on.
ENVIRONMENT_TAG = "Environment"
_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})

LiveCheck = Callable[[TemplateView, boto3.Session], Item]


def _not_checked(check_id: str, dimension: Dimension, title: str, exc: Exception) -> Item:
    if isinstance(exc, NoCredentialsError):
        reason = "no AWS credentials"
    elif isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    else:
        reason = f"AWS unreachable ({type(exc).__name__})"
    return Item(
        check_id,
        dimension,
        title,
        Status.WARN,
        f"not checked: {reason}",
        "run with credentials for the environment's account (aws sts get-caller-identity)",
        live=True,
    )


def _client(session: boto3.Session, service: str, region: str | None = None) -> Any:
    return session.client(service, region_name=region, config=_CLIENT_CONFIG)


def secret_populated(view: TemplateView, session: boto3.Session) -> Item:
    check_id, title = "secret-populated", "The API key is stored in the secret"
    config, env_name = view.synthesized.config, view.synthesized.env_name
    name = next(iter({f.setting(Env.API_KEY_SECRET_NAME) for f in view.claude_functions()}), None) or ""
    put = f"aws secretsmanager put-secret-value --secret-id {name} --secret-string ... (docs/deploy.md)"
    try:
        described = _client(session, "secretsmanager").describe_secret(SecretId=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return Item(
                check_id,
                Dimension.SECURITY,
                title,
                Status.FAIL,
                f"secret {name} does not exist",
                f"make deploy ENV={env_name}, then {put}",
                live=True,
            )
        return _not_checked(check_id, Dimension.SECURITY, title, exc)
    except BotoCoreError as exc:
        return _not_checked(check_id, Dimension.SECURITY, title, exc)
    versions = described.get("VersionIdsToStages", {})
    current = any("AWSCURRENT" in stages for stages in versions.values())
    # The stack creates its secret with a random placeholder: a stored key is a second version.
    stored = current and (config.secret.existing_secret_name is not None or len(versions) >= 2)
    if not stored:
        return Item(
            check_id,
            Dimension.SECURITY,
            title,
            Status.FAIL,
            f"{name} holds only the placeholder the stack created ({len(versions)} version)",
            put,
            live=True,
        )
    return Item(
        check_id,
        Dimension.SECURITY,
        title,
        Status.PASS,
        f"{name}: {len(versions)} versions, AWSCURRENT set (value not read)",
        live=True,
    )


def alarm_actions(view: TemplateView, session: boto3.Session) -> Item:
    check_id, title = "alarm-actions-enabled", "Deployed alarms have their actions on"
    env_name = view.synthesized.env_name
    expected = {name for name in view.alarms() if name.startswith("claude-kit-")}
    try:
        pages = (
            _client(session, "cloudwatch")
            .get_paginator("describe_alarms")
            .paginate(AlarmNamePrefix=contract.alarm_name(env_name, ""), AlarmTypes=["MetricAlarm"])
        )
        deployed = {alarm["AlarmName"]: alarm for page in pages for alarm in page.get("MetricAlarms", [])}
    except (BotoCoreError, ClientError) as exc:
        return _not_checked(check_id, Dimension.OBSERVABILITY, title, exc)
    disabled = sorted(name for name, alarm in deployed.items() if not alarm.get("ActionsEnabled", False))
    firing = sorted(name for name, alarm in deployed.items() if alarm.get("StateValue") == "ALARM")
    missing = sorted(expected - set(deployed))
    evidence = (
        f"{len(deployed)} of {len(expected)} alarms deployed; in ALARM now: {', '.join(firing) or 'none'}"
    )
    if disabled:
        return Item(
            check_id,
            Dimension.OBSERVABILITY,
            title,
            Status.FAIL,
            f"{evidence}; actions disabled on {', '.join(disabled)}",
            "aws cloudwatch enable-alarm-actions --alarm-names <names>",
            live=True,
        )
    if missing or firing:
        return Item(
            check_id,
            Dimension.OBSERVABILITY,
            title,
            Status.WARN,
            f"{evidence}; not deployed: {', '.join(missing) or 'none'}",
            f"make deploy ENV={env_name}; see docs/alarms.md for an alarm in ALARM",
            live=True,
        )
    return Item(check_id, Dimension.OBSERVABILITY, title, Status.PASS, evidence, live=True)


def billing_alerts(_view: TemplateView, session: boto3.Session) -> Item:
    check_id, title = "billing-alerts", "AWS billing alerts enabled"
    try:
        metrics = _client(session, "cloudwatch", BILLING_REGION).list_metrics(
            Namespace="AWS/Billing", MetricName="EstimatedCharges"
        )["Metrics"]
    except (BotoCoreError, ClientError) as exc:
        return _not_checked(check_id, Dimension.OBSERVABILITY, title, exc)
    if not metrics:
        return Item(
            check_id,
            Dimension.OBSERVABILITY,
            title,
            Status.WARN,
            f"no AWS/Billing EstimatedCharges metric in {BILLING_REGION}: the billing alarm has no data",
            "turn on Billing preferences → Receive Billing Alerts in the payer account",
            live=True,
        )
    return Item(
        check_id,
        Dimension.OBSERVABILITY,
        title,
        Status.PASS,
        f"AWS/Billing EstimatedCharges published ({len(metrics)} series)",
        live=True,
    )


def cost_allocation_tag(view: TemplateView, session: boto3.Session) -> Item:
    check_id, title = "cost-allocation-tag", "Environment cost allocation tag active"
    budget = contract.budget_name(view.synthesized.env_name)
    try:
        tags = _client(session, "ce", BILLING_REGION).list_cost_allocation_tags(TagKeys=[ENVIRONMENT_TAG])
    except (BotoCoreError, ClientError) as exc:
        return _not_checked(check_id, Dimension.COST, title, exc)
    status = next(
        (t.get("Status") for t in tags.get("CostAllocationTags", []) if t["TagKey"] == ENVIRONMENT_TAG), None
    )
    if status != "Active":
        return Item(
            check_id,
            Dimension.COST,
            title,
            Status.WARN,
            f"tag {ENVIRONMENT_TAG} is {status or 'unknown to Billing'}: Cost Explorer and budget {budget} "
            "cannot split this environment's AWS spend from the account's",
            f"activate {ENVIRONMENT_TAG} under Billing → Cost allocation tags",
            live=True,
        )
    return Item(
        check_id,
        Dimension.COST,
        title,
        Status.PASS,
        f"{ENVIRONMENT_TAG} is an active cost allocation tag (filter budget {budget} by it)",
        live=True,
    )


def spend_switch(view: TemplateView, session: boto3.Session) -> Item:
    check_id, title = "spend-switch", "Spend switch deployed and open"
    env_name = view.synthesized.env_name
    name = contract.switch_parameter_name(env_name)
    if not view.synthesized.config.alerts.spend_guard_enabled:
        return Item(
            check_id,
            Dimension.COST,
            title,
            Status.FAIL,
            "spend guard disabled in cdk.json",
            "set alerts.spend_guard_enabled to true",
            live=True,
        )
    try:
        value = _client(session, "ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return Item(
                check_id,
                Dimension.COST,
                title,
                Status.FAIL,
                f"{name} does not exist",
                f"make deploy ENV={env_name}",
                live=True,
            )
        return _not_checked(check_id, Dimension.COST, title, exc)
    except BotoCoreError as exc:
        return _not_checked(check_id, Dimension.COST, title, exc)
    try:
        state = json.loads(value)
    except ValueError:
        state = {"state": value}
    if state.get("state") != "open":
        return Item(
            check_id,
            Dimension.COST,
            title,
            Status.WARN,
            f"{name} is {state.get('state')} ({state.get('reason', 'no reason given')})",
            f"bin/kit spend-guard status --env {env_name}, then reopen when the cause is understood",
            live=True,
        )
    return Item(check_id, Dimension.COST, title, Status.PASS, f"{name} is open", live=True)


def anthropic_spend_limit(view: TemplateView, session: boto3.Session) -> Item:
    return workspace_spend_limit(view.synthesized.config, session)


LIVE_CHECKS: tuple[LiveCheck, ...] = (
    anthropic_spend_limit,
    secret_populated,
    spend_switch,
    cost_allocation_tag,
    alarm_actions,
    billing_alerts,
)


def live_items(view: TemplateView, session: boto3.Session | None = None) -> list[Item]:
    session = session or boto3.Session(region_name=view.synthesized.config.region)
    return [check(view, session) for check in LIVE_CHECKS]
