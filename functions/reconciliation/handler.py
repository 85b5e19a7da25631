"""Lambda entry point of the Claude bill function, run hourly by an EventBridge schedule."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from claude_kit import contract
from claude_kit.aws import aws_client
from claude_kit.observability import logger, metrics_namespace, tracer
from claude_kit.pricing import get_price_table
from reconciliation.admin_api import AdminApi
from reconciliation.bill import ClaudeBill
from reconciliation.estimate import CostMetric
from reconciliation.settings import BillSettings, get_bill_settings
from reconciliation.warnings import BudgetWarnings, ParameterSentWarnings


class SpendGuardError(Exception):
    """The spend guard function failed to close the switch: this run fails, and is retried."""


def build_bill(settings: BillSettings) -> ClaudeBill:
    """The bill from settings; the admin key is read from its own secret, never the runtime key's."""
    admin = None
    if settings.admin_key_secret_name:
        from aws_lambda_powertools.utilities.parameters import get_secret

        admin_key = str(get_secret(settings.admin_key_secret_name, max_age=300))
        admin = AdminApi.connect(admin_key, base_url=settings.admin_api_base_url)
    return ClaudeBill(
        settings=settings,
        cost_metric=CostMetric(aws_client("cloudwatch"), env_name=settings.env_name),
        prices=get_price_table(),
        admin_api=admin,
        warnings=BudgetWarnings(
            env_name=settings.env_name,
            percents=settings.budget_warning_percents,
            daily_usd=settings.claude_daily_usd,
            monthly_usd=settings.claude_monthly_usd,
            sent=ParameterSentWarnings(
                aws_client("ssm"),
                settings.warnings_parameter or contract.warnings_parameter_name(settings.env_name),
            ),
            notify=lambda subject, body: _notify(settings, subject, body),
        ),
        close_switch=lambda detail: _close_switch(settings, detail),
        publish=lambda figures: _publish(settings.env_name, figures),
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(_event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    report = build_bill(get_bill_settings()).run()
    logger.info("Claude bill", extra=report.to_json())
    return report.to_json()


def _close_switch(settings: BillSettings, detail: str) -> None:
    if not settings.spend_guard_function:
        logger.warning("Monthly Claude budget reached, but no spend guard to close", extra={"detail": detail})
        return
    command = {
        "action": "close",
        "cause": "claude_monthly_budget",
        "reason": detail,
        "requested_by": "monthly-brake",
    }
    response = aws_client("lambda").invoke(
        FunctionName=settings.spend_guard_function, Payload=json.dumps(command)
    )
    if "FunctionError" in response:
        raise SpendGuardError(f"spend guard failed to close: {response['Payload'].read()[:300]!r}")


def _notify(settings: BillSettings, subject: str, body: str) -> None:
    logger.warning(subject, extra={"detail": body})
    if settings.alert_topic_arn:
        aws_client("sns").publish(TopicArn=settings.alert_topic_arn, Subject=subject[:100], Message=body)


def _publish(env_name: str, figures: Mapping[str, float]) -> None:
    blob = EphemeralMetrics(namespace=metrics_namespace(), service="")
    blob.add_dimension(name=contract.ENVIRONMENT_DIMENSION, value=env_name)
    for name, value in figures.items():
        unit = (
            MetricUnit.Percent
            if name.endswith("Percent")
            else MetricUnit.Count
            if "Tokens" in name
            else MetricUnit.NoUnit
        )
        blob.add_metric(name=name, unit=unit, value=value)
    blob.flush_metrics()
