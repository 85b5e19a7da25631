"""Alarms wired to money: Claude spend per day and per hour, the AWS budget, the account's billing estimate.

The daily alarm is a rolling 24 hours (period 1 day, the default sliding window): a wall-clock window would
only see a day once it is over, too late to brake. See docs/alarms.md for each alarm's metric and meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import AlertsConfig
from infra.constructs.claude_metrics import alarm_above, claude_metric

#: AWS publishes billing metrics in us-east-1 only.
BILLING_REGION = "us-east-1"
#: Budget notifications: (type, percent of the monthly budget).
BUDGET_NOTIFICATIONS = (("FORECASTED", 80), ("ACTUAL", 100))


def budget_name(env_name: str) -> str:
    return f"claude-kit-{env_name}"


class CostAlarms(Construct):
    """`brake_alarms` are the alarms whose ALARM closes the spend switch; `alarms` are all of them.

    `account_billing_alarm` adds the account's billing alarm: only possible in a us-east-1 stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        alerts: AlertsConfig,
        topic: sns.ITopic,
        account_billing_alarm: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        alarm = partial(alarm_above, self, env_name=env_name, topic=topic)
        daily_threshold = alerts.daily_cost_threshold_usd

        self.daily_cost = alarm(
            "DailyCost",
            slug="daily-cost",
            description=(
                f"Estimated Claude spend over the last 24 hours is above {daily_threshold} USD "
                "(alerts.daily_cost_threshold_usd). The spend guard pauses Claude calls."
            ),
            metric=claude_metric("CostUSD", env_name=env_name, period=Duration.days(1)),
            threshold=daily_threshold,
        )
        self.burn_rate = alarm(
            "HourlyBurnRate",
            slug="cost-burn-rate",
            description=(
                f"The last hour's Claude spend x 24 is above the daily threshold ({daily_threshold} USD): "
                "at this pace the daily budget runs out before the day does."
            ),
            metric=cloudwatch.MathExpression(
                expression="24 * hourly",
                using_metrics={
                    "hourly": claude_metric("CostUSD", env_name=env_name, period=Duration.hours(1))
                },
                label="Claude spend per day at the last hour's pace (USD)",
                period=Duration.hours(1),
            ),
            threshold=daily_threshold,
        )
        self.unknown_model_cost = alarm(
            "UnknownModelCost",
            slug="unknown-model-cost",
            description=(
                "Calls to a model with no known price: their cost is missing from CostUSD, so the cost "
                "alarms and the spend guard under-count. Add the model to claude.price_overrides."
            ),
            metric=claude_metric("UnknownModelCost", env_name=env_name, period=Duration.hours(1)),
            threshold=0,
        )

        self.budget = budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=budget_name(env_name),
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=alerts.monthly_budget_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[
                        budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
                    ],
                )
                for kind, percent in BUDGET_NOTIFICATIONS
            ],
        )
        # CloudFormation would otherwise create the budget before the topic policy lets Budgets publish.
        if (topic_policy := topic.node.try_find_child("Policy")) is not None:
            self.budget.node.add_dependency(topic_policy)
        self.budget_name = budget_name(env_name)

        # The account-wide estimate is only in us-east-1; elsewhere infra/billing_stack.py deploys it there.
        self.account_billing = (
            AccountBillingAlarm(self, "AccountBilling", env_name=env_name, alerts=alerts, topic=topic)
            if account_billing_alarm
            else None
        )

        self.brake_alarms: Sequence[cloudwatch.Alarm] = (self.daily_cost,)
        self.alarms: Sequence[cloudwatch.Alarm] = (
            self.daily_cost,
            self.burn_rate,
            self.unknown_model_cost,
            *((self.account_billing.alarm,) if self.account_billing is not None else ()),
        )


class AccountBillingAlarm(Construct):
    """The AWS account's month-to-date estimate (`AWS/Billing EstimatedCharges`), which only us-east-1 has.

    Billing metrics exist once "Receive Billing Alerts" is enabled in the payer account's billing preferences.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        alerts: AlertsConfig,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        if not Token.is_unresolved(region) and region != BILLING_REGION:
            raise ValueError(f"AWS/Billing metrics exist only in {BILLING_REGION}; this stack is in {region}")

        self.alarm = alarm_above(
            self,
            "EstimatedCharges",
            env_name=env_name,
            slug="aws-estimated-charges",
            description=(
                f"The AWS account's estimated charges this month are above {alerts.monthly_budget_usd} USD "
                "(alerts.monthly_budget_usd), all services included."
            ),
            metric=cloudwatch.Metric(
                namespace="AWS/Billing",
                metric_name="EstimatedCharges",
                dimensions_map={"Currency": "USD"},
                statistic="Maximum",
                # AWS updates the estimate a few times a day; a shorter period only adds empty datapoints.
                period=Duration.hours(6),
            ),
            threshold=alerts.monthly_budget_usd,
            topic=topic,
        )
