"""kit_python_function builds the chat function (Lambda Web Adapter) and SQS consumers the same, safe way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from claude_kit.calls import Usage
from claude_kit.pricing import load_price_table
from claude_kit.settings import RuntimeSettings
from infra.config import LOG_RETENTION_DAYS, ClaudeConfig, EnvironmentConfig
from infra.lambda_function import claude_environment, kit_python_function
from infra.nag import add_nag_checks
from infra.retention import log_retention
from tests.infra.conftest import synth_context

pytestmark = pytest.mark.slow

CONFIG = EnvironmentConfig(log_retention_days=14, removal_policy="retain", log_level="WARNING")
LWA_LAYER_ARN = "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerArm64:25"
LWA_ENVIRONMENT = {
    "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
    "AWS_LWA_INVOKE_MODE": "response_stream",
    "PORT": "8000",
}


@dataclass(frozen=True)
class FunctionsUnderTest:
    stack: Stack
    template: Template
    chat: dict[str, Any]
    consumer: dict[str, Any]


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> FunctionsUnderTest:
    """A stack holding one function of each kind the kit deploys, synthesized once for this module."""
    app = App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk-functions")))
    add_nag_checks(app)
    stack = Stack(app, "FunctionsUnderTest", env=Environment(region="us-east-1"))
    kit_python_function(
        stack,
        "Chat",
        env_name="test",
        config=CONFIG,
        handler="run.sh",
        description="Streaming chat API",
        memory_mb=1024,
        timeout=Duration.minutes(15),
        environment=LWA_ENVIRONMENT,
        layers=[lambda_.LayerVersion.from_layer_version_arn(stack, "WebAdapter", LWA_LAYER_ARN)],
    )
    kit_python_function(
        stack,
        "Consumer",
        env_name="test",
        config=CONFIG,
        handler="batch_jobs.consumer.handler",
        description="Batch queue consumer",
        memory_mb=512,
        timeout=Duration.seconds(120),
        reserved_concurrency=3,
        environment={"POWERTOOLS_SERVICE_NAME": "batch-consumer"},
    )
    template = Template.from_stack(stack)
    return FunctionsUnderTest(
        stack=stack,
        template=template,
        chat=_function(template, "Streaming chat API"),
        consumer=_function(template, "Batch queue consumer"),
    )


def _function(template: Template, description: str) -> dict[str, Any]:
    found = template.find_resources("AWS::Lambda::Function", {"Properties": {"Description": description}})
    assert len(found) == 1
    properties: dict[str, Any] = next(iter(found.values()))["Properties"]
    return properties


def test_every_function_runs_python_3_13_on_arm64_with_active_tracing(functions: FunctionsUnderTest) -> None:
    for function in (functions.chat, functions.consumer):
        assert function["Runtime"] == "python3.13"
        assert function["Architectures"] == ["arm64"]
        assert function["TracingConfig"] == {"Mode": "Active"}


def test_chat_function_runs_behind_the_lambda_web_adapter(functions: FunctionsUnderTest) -> None:
    # Then the handler is the startup script, with the adapter layer attached and its settings passed through
    chat = functions.chat
    assert chat["Handler"] == "run.sh"
    assert chat["Layers"] == [LWA_LAYER_ARN]
    assert LWA_ENVIRONMENT.items() <= chat["Environment"]["Variables"].items()
    assert chat["MemorySize"] == 1024
    assert chat["Timeout"] == 900


def test_consumer_is_a_plain_handler_with_reserved_concurrency(functions: FunctionsUnderTest) -> None:
    consumer = functions.consumer
    assert consumer["Handler"] == "batch_jobs.consumer.handler"
    assert "Layers" not in consumer
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in consumer["Environment"]["Variables"]
    assert consumer["ReservedConcurrentExecutions"] == 3


def test_every_function_gets_the_powertools_settings_and_may_override_them(
    functions: FunctionsUnderTest,
) -> None:
    chat = functions.chat["Environment"]["Variables"]
    consumer = functions.consumer["Environment"]["Variables"]

    assert chat["KIT_ENV_NAME"] == "test"
    assert chat["POWERTOOLS_METRICS_NAMESPACE"] == "ClaudeServerlessKit"
    assert chat["POWERTOOLS_LOG_LEVEL"] == "WARNING"
    assert chat["POWERTOOLS_SERVICE_NAME"] == "claude-serverless-kit"
    assert chat["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert consumer["POWERTOOLS_SERVICE_NAME"] == "batch-consumer"


def test_each_function_logs_to_its_own_group_with_the_environment_retention(
    functions: FunctionsUnderTest,
) -> None:
    # Given the log groups of the stack
    template = functions.template
    log_groups = template.find_resources("AWS::Logs::LogGroup")

    # Then there is one per function, kept as long as the config says and retained with the stack's data
    assert len(log_groups) == 2
    for log_group in log_groups.values():
        assert log_group["Properties"]["RetentionInDays"] == 14
        assert log_group["DeletionPolicy"] == "Retain"
    targets = {
        function["LoggingConfig"]["LogGroup"]["Ref"] for function in (functions.chat, functions.consumer)
    }
    assert targets == set(log_groups)


def test_roles_may_write_only_to_their_own_log_group_and_x_ray(functions: FunctionsUnderTest) -> None:
    # Given the consumer's role and its policy
    template = functions.template
    role_id = functions.consumer["Role"]["Fn::GetAtt"][0]
    log_group_id = functions.consumer["LoggingConfig"]["LogGroup"]["Ref"]

    # Then the role carries no AWS managed policy (AWSLambdaBasicExecutionRole allows every log group)
    assert "ManagedPolicyArns" not in template.find_resources("AWS::IAM::Role")[role_id]["Properties"]
    # And its only statements are its log group's streams and X-Ray
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
                    },
                    {
                        "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                        "Effect": "Allow",
                        "Resource": "*",
                    },
                ],
                "Version": Match.any_value(),
            },
        },
    )


def test_all_functions_share_one_code_asset(functions: FunctionsUnderTest) -> None:
    # Then the bundle is built and uploaded once, whatever the number of functions
    assert functions.chat["Code"] == functions.consumer["Code"]


def test_cdk_nag_finds_nothing_unacknowledged_and_every_acknowledgement_has_a_reason(
    functions: FunctionsUnderTest, nag_findings, acknowledgements
) -> None:
    assert nag_findings(functions.stack) == []
    found = acknowledgements(functions.stack)
    assert {ack.rule for ack in found} == {"AwsSolutions-IAM5[Resource::*]", "AwsSolutions-L1"}
    assert all(len(ack.reason.split()) >= 8 for ack in found)


def test_every_accepted_log_retention_reaches_the_template_unchanged(tmp_path_factory) -> None:
    # Given one log group per retention period infra/config.py accepts
    app = App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk-retention")))
    stack = Stack(app, "Retention")
    for days in LOG_RETENTION_DAYS:
        logs.LogGroup(
            stack, f"Keep{days}", retention=log_retention(EnvironmentConfig(log_retention_days=days))
        )

    # When synthesized
    resources = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")

    # Then each keeps its logs for exactly the configured number of days
    assert sorted(resource["Properties"]["RetentionInDays"] for resource in resources.values()) == sorted(
        LOG_RETENTION_DAYS
    )


def test_claude_environment_round_trips_through_the_runtime_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment's Claude settings turned into function environment variables
    config = EnvironmentConfig(
        claude=ClaudeConfig(
            model="claude-haiku-5-5",
            fallback_model="claude-sonnet-5-5",
            max_tokens_cap=2048,
            context_max_turns=12,
            price_overrides={"claude-haiku-5-5": {"input": 1.5, "output": 7.5}},
            first_token_deadline_seconds=12.5,
            retry_ambiguous=True,
        )
    )
    environment = claude_environment(config, api_key_secret_name="/claude-kit/test/anthropic-api-key")

    # When a function reads them the way claude_kit does
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = RuntimeSettings()

    # Then it sees exactly what cdk.json says
    assert settings.api_key_secret_name == "/claude-kit/test/anthropic-api-key"
    assert settings.model == "claude-haiku-5-5"
    assert settings.fallback_model == "claude-sonnet-5-5"
    assert settings.allowed_models == config.claude.allowed_models
    assert settings.max_tokens_cap == 2048
    assert settings.context_max_turns == 12
    assert settings.context_max_tokens == config.claude.context_max_tokens
    assert settings.secret_cache_ttl_seconds == config.secret.cache_ttl_seconds
    assert settings.price_overrides == {"claude-haiku-5-5": {"input": 1.5, "output": 7.5}}
    assert settings.first_token_deadline_seconds == 12.5
    assert settings.retry_ambiguous is True


def test_the_disputed_sonnet_5_price_can_be_overridden_from_cdk_json(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment whose invoices show Sonnet 5 at $3 / $15 (the official page says $2 / $10)
    config = EnvironmentConfig(
        claude=ClaudeConfig(price_overrides={"claude-sonnet-5": {"input": 3.0, "output": 15.0}})
    )
    for name, value in claude_environment(config, api_key_secret_name="s").items():
        monkeypatch.setenv(name, value)
    # When the function prices a call
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    shipped = load_price_table()
    overridden = load_price_table(RuntimeSettings().price_overrides)
    # Then the override applies to that model only, and the other rates keep the file's figures
    assert shipped.cost("claude-sonnet-5", usage) == pytest.approx(12.0)
    assert overridden.cost("claude-sonnet-5", usage) == pytest.approx(18.0)
    assert overridden.models["claude-sonnet-5"].cache_read == shipped.models["claude-sonnet-5"].cache_read
    assert overridden.cost("claude-haiku-5-5", usage) == shipped.cost("claude-haiku-5-5", usage)
