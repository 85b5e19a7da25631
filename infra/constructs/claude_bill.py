"""The Claude bill, watched hourly (functions/reconciliation): the month-to-date Claude cost figure the
monthly brake closes on, the warnings before the brakes, and, once an Admin API key is configured, the
reconciliation of the kit's estimate with Anthropic's Usage & Cost report and its alarms.

A CloudWatch alarm cannot evaluate a month (period × evaluation periods ≤ 7 days: CloudWatch user guide,
"Using Amazon CloudWatch alarms"), so the function computes the month itself and publishes it as a metric.
"""

from __future__ import annotations

import json
from functools import partial

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from claude_kit import contract
from claude_kit.contract import Env, Metric
from infra.config import EnvironmentConfig
from infra.constructs.claude_metrics import alarm_above, claude_metric
from infra.constructs.spend_guard import SpendGuard
from infra.lambda_function import kit_python_function
from infra.nag import acknowledge


class ClaudeBill(Construct):
    """`function` runs hourly; `alarms` are the monthly Claude cost alarm and, with reconciliation, the
    reported-cost and drift alarms (notifications: the function itself closes the switch)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        config: EnvironmentConfig,
        topic: sns.ITopic,
        spend_guard: SpendGuard | None,
    ) -> None:
        super().__init__(scope, construct_id)
        alerts, recon = config.alerts, config.reconciliation
        self.warnings = ssm.StringParameter(
            self,
            "SentWarnings",
            parameter_name=contract.warnings_parameter_name(env_name),
            description=f"claude-kit {env_name}: budget warnings already sent this day / month",
            string_value="{}",
        )
        environment = {
            Env.CLAUDE_DAILY_USD: str(alerts.claude_daily_usd),
            Env.BUDGET_WARNING_PERCENTS: json.dumps(list(alerts.budget_warning_percents)),
            Env.ALERT_TOPIC_ARN: topic.topic_arn,
            Env.WARNINGS_PARAMETER: self.warnings.parameter_name,
        }
        if alerts.claude_monthly_usd is not None:
            environment[Env.CLAUDE_MONTHLY_USD] = str(alerts.claude_monthly_usd)
        if config.claude.price_overrides:
            environment[Env.PRICE_OVERRIDES] = json.dumps(config.claude.price_overrides, sort_keys=True)
        if spend_guard is not None:
            environment[Env.SPEND_GUARD_FUNCTION] = spend_guard.function_name
        if recon.admin_key_secret_name is not None:
            environment |= {
                Env.ADMIN_KEY_SECRET_NAME: recon.admin_key_secret_name,
                Env.ANTHROPIC_API_KEY_ID: recon.anthropic_api_key_id or "",
                Env.REPORT_DELAY_MINUTES: str(recon.report_delay_minutes),
            }
            if recon.anthropic_workspace_id is not None:
                environment[Env.ANTHROPIC_WORKSPACE_ID] = recon.anthropic_workspace_id

        self.function = kit_python_function(
            self,
            "Function",
            env_name=env_name,
            config=config,
            handler="reconciliation.handler.handler",
            description="Claude bill: month-to-date cost, monthly brake, warnings, reconciliation",
            memory_mb=256,
            timeout=Duration.minutes(2),
            environment=environment,
        )
        self.warnings.grant_read(self.function)
        self.warnings.grant_write(self.function)
        topic.grant_publish(self.function)
        acknowledge(
            self.function.role or self.function,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            reason="grant_publish on the KMS-encrypted alert topic: data keys of that one key, for warnings.",
        )
        if spend_guard is not None:  # the function itself, not its versions (grant_invoke adds `:*`)
            self.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"], resources=[spend_guard.function.function_arn]
                )
            )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
        )
        acknowledge(
            self.function.role or self.function,
            "AwsSolutions-IAM5[Resource::*]",
            reason="cloudwatch:GetMetricData supports no resource-level permissions (it reads CostUSD).",
        )
        # The admin key has its own secret, created by an operator: never the runtime key's (it reads the
        # whole organisation's usage).
        self.admin_key_secret = (
            secretsmanager.Secret.from_secret_name_v2(self, "AdminKey", recon.admin_key_secret_name)
            if recon.admin_key_secret_name is not None
            else None
        )
        if self.admin_key_secret is not None:
            self.admin_key_secret.grant_read(self.function)

        self.schedule = events.Rule(
            self,
            "Hourly",
            description=f"claude-kit {env_name}: the Claude bill's hourly look",
            schedule=events.Schedule.rate(Duration.hours(1)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )

        alarm = partial(alarm_above, self, env_name=env_name, topic=topic)
        hourly = Duration.hours(1)
        alarms: list[cloudwatch.Alarm] = []
        if alerts.claude_monthly_usd is not None:
            alarms.append(
                alarm(
                    "MonthlyClaudeCost",
                    slug="monthly-claude-cost",
                    description=(
                        f"Month-to-date Claude cost is above {alerts.claude_monthly_usd} USD "
                        "(alerts.claude_monthly_usd): the Claude bill function has closed the spend switch "
                        "(reason claude_monthly_budget)."
                    ),
                    metric=claude_metric(
                        Metric.MONTH_TO_DATE_COST_USD, env_name=env_name, statistic="Maximum", period=hourly
                    ),
                    threshold=alerts.claude_monthly_usd,
                )
            )
        if recon.admin_key_secret_name is not None:
            if alerts.claude_monthly_usd is not None:
                alarms.append(
                    alarm(
                        "ReportedMonthlyClaudeCost",
                        slug="reported-monthly-claude-cost",
                        description=(
                            "Anthropic's reported month-to-date Claude cost for this key is "
                            f"above {alerts.claude_monthly_usd} USD (alerts.claude_monthly_usd): the bill."
                        ),
                        metric=claude_metric(
                            Metric.REPORTED_MONTH_TO_DATE_COST_USD,
                            env_name=env_name,
                            statistic="Maximum",
                            period=hourly,
                        ),
                        threshold=alerts.claude_monthly_usd,
                    )
                )
            alarms.append(
                alarm(
                    "ClaudeCostDrift",
                    slug="claude-cost-drift",
                    description=(
                        "The kit's Claude cost estimate and Anthropic's report for the last complete 24 h "
                        f"differ by more than {recon.drift_percent} % (reconciliation.drift_percent): spend "
                        "outside the kit with this key, or a wrong price or token count in the kit."
                    ),
                    metric=claude_metric(
                        Metric.COST_DRIFT_PERCENT, env_name=env_name, statistic="Maximum", period=hourly
                    ),
                    threshold=recon.drift_percent,
                )
            )
        self.alarms: tuple[cloudwatch.Alarm, ...] = tuple(alarms)
