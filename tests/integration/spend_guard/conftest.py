"""One deployed environment on moto, as the SpendGuard construct leaves it: the open switch, a batch consumer
with its SQS event source mapping, the brake alarm, the alert topic, the API key secret; the guard function's
settings in the environment and the Claude base URL pointing at the fake."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from moto import mock_aws

from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer
from spend_guard import handler as guard_handler
from spend_guard.settings import get_guard_settings

ENV_NAME = "test"
SWITCH = f"/claude-kit/{ENV_NAME}/spend-switch"
BRAKE_ALARM = f"claude-kit-{ENV_NAME}-daily-cost"
OTHER_ALARM = f"claude-kit-{ENV_NAME}-latency-p99"
BUDGET = f"claude-kit-{ENV_NAME}"
SECRET = f"/claude-kit/{ENV_NAME}/anthropic-api-key"


@dataclass(frozen=True)
class LambdaContext:
    """The attributes Powertools reads from the Lambda context."""

    function_name: str = f"claude-kit-{ENV_NAME}-spend-guard"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        f"arn:aws:lambda:us-east-1:123456789012:function:claude-kit-{ENV_NAME}-spend-guard"
    )
    aws_request_id: str = "4f2f0b5e-1f6d-4a8c-9a41-0a3e1c1b2d3f"


@dataclass
class Deployment:
    ssm: Any
    lambda_client: Any
    cloudwatch: Any
    topic_arn: str
    mapping_id: str

    def switch(self) -> dict[str, Any]:
        return dict(json.loads(self.ssm.get_parameter(Name=SWITCH)["Parameter"]["Value"]))

    def mapping_state(self) -> str:
        return str(self.lambda_client.get_event_source_mapping(UUID=self.mapping_id)["State"])

    def alarm_state(self, name: str = BRAKE_ALARM) -> str:
        return str(self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])

    def invoke(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The guard function's handler, as Lambda calls it; returns its outcomes."""
        return list(guard_handler.handler(event, LambdaContext())["outcomes"])


def _zip_of(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("consumer.py", source)
    return buffer.getvalue()


def _reset_guard_factories() -> None:
    get_guard_settings.cache_clear()
    guard_handler.get_spend_guard.cache_clear()


@pytest.fixture
def deployment(fake_claude: FakeClaudeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    with mock_aws():
        ssm, lambda_client, cloudwatch = (boto3.client(name) for name in ("ssm", "lambda", "cloudwatch"))
        ssm.put_parameter(
            Name=SWITCH, Type="String", Value=json.dumps({"state": "open", "reason": "created by deployment"})
        )
        role = boto3.client("iam").create_role(
            RoleName="batch-consumer",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        lambda_client.create_function(
            FunctionName=f"claude-kit-{ENV_NAME}-batch-consumer",
            Runtime="python3.13",
            Role=role,
            Handler="consumer.handler",
            Code={"ZipFile": _zip_of("def handler(event, context):\n    return {}\n")},
        )
        queue_url = boto3.client("sqs").create_queue(QueueName=f"claude-kit-{ENV_NAME}-default")["QueueUrl"]
        queue_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        mapping_id = lambda_client.create_event_source_mapping(
            EventSourceArn=queue_arn["Attributes"]["QueueArn"],
            FunctionName=f"claude-kit-{ENV_NAME}-batch-consumer",
            BatchSize=10,
            Enabled=True,
        )["UUID"]
        topic_arn = boto3.client("sns").create_topic(Name=f"claude-kit-{ENV_NAME}-alerts")["TopicArn"]
        for name in (BRAKE_ALARM, OTHER_ALARM):
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                Namespace="ClaudeServerlessKit",
                MetricName="CostUSD",
                Dimensions=[{"Name": "Environment", "Value": ENV_NAME}],
                Statistic="Sum",
                Period=86400,
                EvaluationPeriods=1,
                Threshold=5.0,
                ComparisonOperator="GreaterThanThreshold",
                AlarmActions=[topic_arn],
                OKActions=[topic_arn],
            )
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name=SECRET, SecretString=PLACEHOLDER_API_KEY)
        monkeypatch.setitem(DEFAULT_PROVIDERS, "secrets", SecretsProvider(boto3_client=secrets))

        for name, value in {
            # The guard function's settings (infra/constructs/spend_guard.py) ...
            "KIT_ENV_NAME": ENV_NAME,
            "KIT_SPEND_SWITCH_PARAMETER": SWITCH,
            "KIT_SPEND_GUARD_ALARM_NAMES": json.dumps([BRAKE_ALARM]),
            "KIT_SPEND_GUARD_BUDGET_NAME": BUDGET,
            "KIT_SPEND_GUARD_TOPIC_ARN": topic_arn,
            "KIT_SPEND_GUARD_AUTO_REOPEN": "true",
            "KIT_BATCH_CONSUMER_MAPPINGS": json.dumps([mapping_id]),
            # ... and a Claude-calling function's: the switch read before every call, the fake Claude.
            "KIT_SPEND_SWITCH_MAX_AGE_SECONDS": "0",
            "KIT_API_KEY_SECRET_NAME": SECRET,
            "KIT_CLAUDE_BASE_URL": fake_claude.base_url,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            monkeypatch.setenv(name, value)
        _reset_guard_factories()
        yield Deployment(
            ssm=ssm,
            lambda_client=lambda_client,
            cloudwatch=cloudwatch,
            topic_arn=topic_arn,
            mapping_id=mapping_id,
        )
        _reset_guard_factories()
