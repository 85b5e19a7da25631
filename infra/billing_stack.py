"""The AWS account billing alarm for an environment deployed outside us-east-1.

AWS publishes `AWS/Billing EstimatedCharges` in us-east-1 only, and an alarm can only notify a topic in its
own region, so such an environment gets this small extra stack there: its own alert topic (same subscribers)
and the alarm. Environments in us-east-1 have the alarm in their main stack (constructs/observability.py).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Environment, Stack
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.alerts import AlertTopic
from infra.constructs.cost_alarms import BILLING_REGION, AccountBillingAlarm
from infra.retention import removal_policy


class BillingStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, env_name: str, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.alerts = AlertTopic(
            self,
            "Alerts",
            env_name=env_name,
            emails=config.alerts.emails,
            https_endpoints=config.alerts.https_subscriptions,
            removal_policy=removal_policy(config),
        )
        self.billing_alarm = AccountBillingAlarm(
            self, "BillingAlarm", env_name=env_name, alerts=config.alerts, topic=self.alerts.topic
        )


def needs_billing_stack(config: EnvironmentConfig) -> bool:
    return config.region != BILLING_REGION


def add_billing_stack(app: App, *, env_name: str, config: EnvironmentConfig) -> BillingStack | None:
    """The billing stack of an environment outside us-east-1 (None for one inside: its main stack has it)."""
    if not needs_billing_stack(config):
        return None
    return BillingStack(
        app,
        f"claude-kit-{env_name}-billing",
        env_name=env_name,
        config=config,
        env=Environment(account=config.account_or_none, region=BILLING_REGION),
        description=f"claude-serverless-kit ({env_name}): AWS account billing alarm",
    )
