"""The automatic brake: a function on the alert topic that closes the environment's spend switch and pauses
the batch consumers when the daily cost alarm or the budget fires, and (optionally) reopens at 00:05 UTC.

The switch is an SSM parameter rather than a DynamoDB item: one value per environment, read by every
Claude-calling function at most once per `spend_switch_max_age_seconds`, free at standard throughput, visible
and editable in the console, with its change history kept by Parameter Store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.lambda_function import kit_python_function


def switch_parameter_name(env_name: str) -> str:
    return f"/claude-kit/{env_name}/spend-switch"


def guard_function_name(env_name: str) -> str:
    """Fixed, so `python -m spend_guard.cli ... --env NAME` finds it (functions/spend_guard/cli.py)."""
    return f"claude-kit-{env_name}-spend-guard"


#: What the daily schedule sends the guard function (spend_guard.handler.GuardCommand).
DAILY_REOPEN = {"action": "daily-reopen", "requested_by": "schedule"}


class SpendGuard(Construct):
    """`switch` is the parameter, `function` the guard; `attach(fn)` makes a Claude caller obey it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        config: EnvironmentConfig,
        topic: sns.ITopic,
        brake_alarms: Sequence[cloudwatch.IAlarm],
        budget_name: str,
        batch_consumer_mappings: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        auto_reopen = config.alerts.spend_guard_auto_reopen_daily

        self.switch = ssm.StringParameter(
            self,
            "Switch",
            parameter_name=switch_parameter_name(env_name),
            description=f"claude-kit {env_name}: open = Claude calls allowed; closed = paused by spend guard",
            # Deploys never reset it: CloudFormation only writes this value when the parameter is created.
            string_value=json.dumps({"state": "open", "reason": "created by deployment"}),
        )
        self.function = kit_python_function(
            self,
            "Function",
            env_name=env_name,
            config=config,
            handler="spend_guard.handler.handler",
            description="Spend guard: pauses Claude calls and batch consumers when cost alarms fire",
            memory_mb=256,
            timeout=Duration.seconds(60),
            function_name=guard_function_name(env_name),
            environment={
                "KIT_SPEND_SWITCH_PARAMETER": self.switch.parameter_name,
                "KIT_SPEND_GUARD_ALARM_NAMES": stack.to_json_string(
                    [alarm.alarm_name for alarm in brake_alarms]
                ),
                "KIT_SPEND_GUARD_BUDGET_NAME": budget_name,
                "KIT_SPEND_GUARD_TOPIC_ARN": topic.topic_arn,
                "KIT_SPEND_GUARD_AUTO_REOPEN": json.dumps(auto_reopen),
                "KIT_BATCH_CONSUMER_MAPPINGS": stack.to_json_string(list(batch_consumer_mappings)),
            },
        )
        topic.add_subscription(subscriptions.LambdaSubscription(self.function))

        self.switch.grant_read(self.function)
        self.switch.grant_write(self.function)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:SetAlarmState"], resources=[alarm.alarm_arn for alarm in brake_alarms]
            )
        )
        if batch_consumer_mappings:
            self.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
                    resources=[
                        stack.format_arn(
                            service="lambda",
                            resource="event-source-mapping",
                            resource_name=mapping_id,
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                        for mapping_id in batch_consumer_mappings
                    ],
                )
            )

        self.schedule: events.Rule | None = None
        if auto_reopen:
            self.schedule = events.Rule(
                self,
                "DailyReopen",
                description=f"claude-kit {env_name}: new day, reopen a switch a cost alarm closed",
                schedule=events.Schedule.cron(minute="5", hour="0"),
                targets=[
                    targets.LambdaFunction(
                        self.function, event=events.RuleTargetInput.from_object(DAILY_REOPEN)
                    )
                ],
            )

    def attach(self, function: lambda_.Function) -> None:
        """`function`'s `SpendSwitch` (claude_kit.spend_switch) reads it before each Claude call."""
        function.add_environment("KIT_SPEND_SWITCH_PARAMETER", self.switch.parameter_name)
        self.switch.grant_read(function)
