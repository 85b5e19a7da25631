"""Alarms wired to money: Claude spend per day and per hour, the AWS budget, the account's billing estimate.

Two bills: Anthropic's (`alerts.claude_*`: the kit's CostUSD estimate, and the reconciled report in
constructs/claude_bill.py) and AWS's (`alerts.aws_*`: the budget, scoped to this environment by its
cost-allocation tag, and the account-wide EstimatedCharges alarm).

The daily alarm is a rolling 24 hours (period 1 day, the default sliding window): a wall-clock window would
only see a day once it is over, too late to brake. See docs/alarms.md for each alarm's metric and meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from claude_kit import contract
from claude_kit.contract import Metric
from infra.config import AlertsConfig
from infra.constructs.claude_metrics import alarm_above, claude_metric

#: AWS publishes billing metrics in us-east-1 only.
BILLING_REGION = "us-east-1"
#: Budget notifications: (type, percent of the monthly budget).
BUDGET_NOTIFICATIONS = (("FORECASTED", 80), ("ACTUAL", 100))
#: Tag every resource of an environment carries (infra/stack.py), which its AWS budget filters on. A user tag
#: counts in Budgets only once activated as a cost-allocation tag in the payer account (Billing → Cost
#: allocation tags), and only for costs incurred after that (docs/alarms.md).
COST_ALLOCATION_TAG = "claude-kit-environment"


def budget_tag_filter(env_name: str) -> dict[str, list[str]]:
    """Budgets' CostFilters form for one tag value: `user:<key>$<value>` (AWS Budgets API, CostFilters)."""
    return {"TagKeyValue": [f"user:{COST_ALLOCATION_TAG}${env_name}"]}


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
        daily_threshold = alerts.claude_daily_usd

        self.daily_cost = alarm(
            "DailyCost",
            slug="daily-cost",
            description=(
                f"Estimated Claude spend over the last 24 hours is above {daily_threshold} USD "
                "(alerts.claude_daily_usd). The spend guard pauses Claude calls."
            ),
            metric=claude_metric(Metric.COST_USD, env_name=env_name, period=Duration.days(1)),
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
                    "hourly": claude_metric(Metric.COST_USD, env_name=env_name, period=Duration.hours(1))
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
            metric=claude_metric(Metric.UNKNOWN_MODEL_COST, env_name=env_name, period=Duration.hours(1)),
            threshold=0,
        )

        self.budget = budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=contract.budget_name(env_name),
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(
                    amount=alerts.aws_monthly_budget_usd, unit="USD"
                ),
                # This environment's AWS costs only, not the account's (several environments share one).
                cost_filters=budget_tag_filter(env_name),
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
        self.budget_name = contract.budget_name(env_name)

        # The account-wide estimate is only in us-east-1; elsewhere infra/billing_stack.py deploys it there.
        self.account_billing = (
            AccountBillingAlarm(self, "AccountBilling", env_name=env_name, alerts=alerts, topic=topic)
            if account_billing_alarm and alerts.aws_account_billing_alarm
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

    Billing metrics exist once "Receive Billing Alerts" is enabled in the payer account's billing preferences,
    and only in the paying (management) account of an AWS Organization: a member account never gets a
    datapoint. Missing data is therefore "missing", not "not breaching": without data for a day the alarm goes
    to INSUFFICIENT_DATA and tells the topic, instead of staying OK forever and unsaid
    (`alerts.aws_account_billing_alarm: false` removes it in a member account).
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
                f"The AWS account's estimated charges this month are above {alerts.aws_monthly_budget_usd} "
                "USD (alerts.aws_monthly_budget_usd), all services and environments included. "
                "INSUFFICIENT_DATA: no billing data (a member account of an Organization never has any)."
            ),
            metric=cloudwatch.Metric(
                namespace="AWS/Billing",
                metric_name="EstimatedCharges",
                dimensions_map={"Currency": "USD"},
                statistic="Maximum",
                # AWS updates the estimate a few times a day: a day always holds one where it exists at all.
                period=Duration.days(1),
            ),
            threshold=alerts.aws_monthly_budget_usd,
            topic=topic,
        )
        cfn_alarm = self.alarm.node.default_child
        assert isinstance(cfn_alarm, cloudwatch.CfnAlarm)
        cfn_alarm.treat_missing_data = "missing"  # CloudFormation spells TreatMissingData in lower case
        self.alarm.add_insufficient_data_action(actions.SnsAction(topic))
