"""The automatic brake: a function on the alert topic that closes the environment's spend switch and pauses
the batch consumers when the daily cost alarm or the budget fires (the monthly Claude brake and operators
invoke it too), and (optionally) reopens at 00:05 UTC a closing whose alarm is OK again.

SNS and EventBridge invoke the guard asynchronously: Lambda retries a failed invocation twice, then sends the
event to the guard's on-failure queue, whose alarm says a brake may not have closed (Lambda async invocation:
"Retaining records of asynchronous invocations" / destinations, AWS Lambda developer guide).

The switch is an SSM parameter rather than a DynamoDB item: one value per environment, read by every
Claude-calling function at most once per `spend_switch_max_age_seconds`, free at standard throughput, visible
and editable in the console, with its change history kept by Parameter Store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from claude_kit import contract
from claude_kit.contract import Env
from infra.config import EnvironmentConfig
from infra.lambda_function import kit_python_function
from infra.nag import acknowledge

#: What the daily schedule sends the guard function (spend_guard.handler.GuardCommand).
DAILY_REOPEN = {"action": "daily-reopen", "requested_by": "schedule"}


class SpendGuard(Construct):
    """`switch` is the parameter, `function` the guard, `failed_invocations` the queue of events it could not
    handle (with `failure_alarm`); `attach(fn)` makes a Claude caller obey it, `attach_consumer(fn, queue)` a
    batch consumer (which also parks its records while closed and asks the guard to pause the mappings)."""

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
        self._env_name = env_name
        stack = Stack.of(self)
        auto_reopen = config.alerts.spend_guard_auto_reopen_daily

        self.switch = ssm.StringParameter(
            self,
            "Switch",
            parameter_name=contract.switch_parameter_name(env_name),
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
            function_name=contract.guard_function_name(env_name),
            environment={
                Env.SPEND_SWITCH_PARAMETER: self.switch.parameter_name,
                Env.SPEND_GUARD_ALARM_NAMES: stack.to_json_string(
                    [alarm.alarm_name for alarm in brake_alarms]
                ),
                Env.SPEND_GUARD_BUDGET_NAME: budget_name,
                Env.SPEND_GUARD_TOPIC_ARN: topic.topic_arn,
                Env.SPEND_GUARD_AUTO_REOPEN: json.dumps(auto_reopen),
                Env.BATCH_CONSUMER_MAPPINGS: stack.to_json_string(list(batch_consumer_mappings)),
            },
        )
        # A close that fails every attempt must not vanish: it waits here, and the alarm tells people.
        self.failed_invocations = sqs.Queue(
            self,
            "FailedInvocations",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            self.failed_invocations,
            "AwsSolutions-SQS3",
            reason="The spend guard's on-failure destination: a dead-letter store, alarmed on any event.",
        )
        self.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.failed_invocations), retry_attempts=2
        )
        self.failure_alarm = cloudwatch.Alarm(
            self,
            "FailedInvocationsAlarm",
            alarm_name=contract.alarm_name(env_name, "spend-guard-failed"),
            alarm_description=(
                "The spend guard failed an event on every attempt (an alarm, a budget notification, the "
                "daily reopen): the switch may not have changed. Read the event in the queue, fix, and run "
                "`bin/kit spend-guard status|close|reopen`."
            ),
            metric=self.failed_invocations.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.failure_alarm.add_alarm_action(actions.SnsAction(topic))
        self.failure_alarm.add_ok_action(actions.SnsAction(topic))
        topic.add_subscription(subscriptions.LambdaSubscription(self.function))

        self.switch.grant_read(self.function)
        self.switch.grant_write(self.function)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                # DescribeAlarms: the daily reopen reopens only when the closing alarm is OK.
                actions=["cloudwatch:SetAlarmState", "cloudwatch:DescribeAlarms"],
                resources=[alarm.alarm_arn for alarm in brake_alarms],
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
                description=f"claude-kit {env_name}: reopen a closing whose alarm is OK, or last month's",
                schedule=events.Schedule.cron(minute="5", hour="0"),
                targets=[
                    targets.LambdaFunction(
                        self.function, event=events.RuleTargetInput.from_object(DAILY_REOPEN)
                    )
                ],
            )

    def attach(self, function: lambda_.Function) -> None:
        """`function`'s `SpendSwitch` (claude_kit.spend_switch) reads it before each Claude call."""
        function.add_environment(Env.SPEND_SWITCH_PARAMETER, self.switch.parameter_name)
        self.switch.grant_read(function)

    def attach_consumer(self, function: lambda_.Function, queue: sqs.IQueue) -> None:
        """A batch consumer: obeys the switch, parks its records in `queue` while it is closed, and may ask
        the guard (by name: an ARN reference would make a dependency cycle through the mappings) to pause."""
        self.attach(function)
        function.add_environment(Env.QUEUE_URL, queue.queue_url)
        function.add_environment(Env.SPEND_GUARD_FUNCTION, self.function_name)
        queue.grant_send_messages(function)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[
                    Stack.of(self).format_arn(
                        service="lambda",
                        resource="function",
                        resource_name=self.function_name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )

    @property
    def function_name(self) -> str:
        return contract.guard_function_name(self._env_name)
