"""The chat API as each environment of cdk.json synthesizes it, plus the switches cdk.json leaves off
(SnapStart, provisioned concurrency, Cognito, CORS): streaming integrations, the adapter on the chat function
only, the usage plan, least-privilege grants, cdk-nag."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack
from aws_cdk.assertions import Template
from fastapi.testclient import TestClient

from chat_api import lifecycle
from chat_api.app import create_app
from chat_api.settings import ChatSettings
from infra.config import ChatConfig, EnvironmentConfig, SecretConfig
from infra.constructs.api_key_secret import ApiKeySecret
from infra.constructs.chat_api import API_DOCS_PATHS, WEB_PAGE_PATHS, ChatApi
from infra.nag import add_nag_checks
from tests.infra.conftest import SynthesizedEnvironment, actions, resources, role_statements, synth_context

pytestmark = pytest.mark.slow

STREAMING_URI = re.compile(
    r":apigateway:[a-z0-9-]+:lambda:path/2021-11-15/functions/.*/response-streaming-invocations$"
)
APP_ROUTES = {
    ("POST", "/chat"),
    ("GET", "/chat/{session_id}"),
    ("DELETE", "/chat/{session_id}"),
    ("GET", "/health"),
}


def flatten(value: Any) -> str:
    """A CloudFormation expression as one string (Fn::Join parts concatenated, Refs as their logical id)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(flatten(part) for part in value)
    if isinstance(value, dict):
        ((key, inner),) = value.items()
        if key == "Fn::Join":
            separator, parts = inner
            return str(separator).join(flatten(part) for part in parts)
        if key == "Ref":
            return f"${{{inner}}}"
        if key == "Fn::GetAtt":
            return f"${{{'.'.join(inner)}}}"
        return flatten(inner)
    return str(value)


def app_methods(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) → properties of every chat API method except CORS preflights."""
    paths = {
        name: props["PathPart"] for name, props in resources(template, "AWS::ApiGateway::Resource").items()
    }
    parents = {
        name: props["ParentId"] for name, props in resources(template, "AWS::ApiGateway::Resource").items()
    }

    def path_of(resource: Any) -> str:
        if isinstance(resource, dict) and "Ref" in resource and resource["Ref"] in paths:
            return f"{path_of(parents[resource['Ref']])}/{paths[resource['Ref']]}"
        return ""

    return {
        (props["HttpMethod"], path_of(props["ResourceId"]) or "/"): props
        for props in resources(template, "AWS::ApiGateway::Method").values()
        if props["HttpMethod"] != "OPTIONS"
    }


def chat_function(template: Template) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (name, props)
        for name, props in resources(template, "AWS::Lambda::Function").items()
        if props["Handler"] == "chat_api/run.sh"
    ]
    return found


def test_every_route_streams_from_the_chat_function_for_up_to_15_minutes(env: SynthesizedEnvironment) -> None:
    # Given the environment's chat API
    methods = app_methods(env.template)
    function_id, _ = chat_function(env.template)

    # Then each app route is a Lambda proxy integration in STREAM mode, through the streaming invocation URI
    assert set(methods) >= APP_ROUTES
    for route in APP_ROUTES:
        integration = methods[route]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["ResponseTransferMode"] == "STREAM"
        assert integration["TimeoutInMillis"] == 900_000
        uri = flatten(integration["Uri"])
        assert STREAMING_URI.search(uri), uri
        assert function_id in uri
        # and every call needs an API key
        assert methods[route]["ApiKeyRequired"] is True


def test_the_api_is_regional_traced_and_access_logged_in_a_stage_named_for_the_environment(
    env: SynthesizedEnvironment,
) -> None:
    env.template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}}
    )
    (stage,) = resources(env.template, "AWS::ApiGateway::Stage").values()
    assert stage["StageName"] == env.stack.env_name
    assert stage["TracingEnabled"] is True
    assert "DestinationArn" in stage["AccessLogSetting"]
    # never request or response bodies in the execution logs: they are users' conversations
    assert {setting["DataTraceEnabled"] for setting in stage["MethodSettings"]} == {False}


def test_only_the_chat_function_runs_behind_the_web_adapter(env: SynthesizedEnvironment) -> None:
    # Given every function of the environment
    functions = resources(env.template, "AWS::Lambda::Function")
    chat_id, chat = chat_function(env.template)

    # Then the chat function has the pinned adapter layer and the streaming settings
    version = env.config.chat.lwa_layer_version
    layer = f":lambda:{env.config.region}:753240598075:layer:LambdaAdapterLayerArm64:{version}"
    assert [flatten(arn).endswith(layer) for arn in chat["Layers"]] == [True]
    variables = chat["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert variables["AWS_LWA_READINESS_CHECK_PATH"] == "/health"
    assert (chat["MemorySize"], chat["Timeout"]) == (
        env.config.chat.memory_mb,
        env.config.chat.timeout_seconds,
    )
    assert chat.get("ReservedConcurrentExecutions") == env.config.chat.reserved_concurrency
    # and no other function does (an SQS consumer in streaming mode would not return its batch response)
    for name, props in functions.items():
        if name == chat_id:
            continue
        assert "Layers" not in props
        assert not [name for name in props.get("Environment", {}).get("Variables", {}) if "LWA" in name]
        assert "AWS_LAMBDA_EXEC_WRAPPER" not in props.get("Environment", {}).get("Variables", {})


def test_each_api_key_is_throttled_and_capped_by_the_environments_usage_plan(
    env: SynthesizedEnvironment,
) -> None:
    chat = env.config.chat
    env.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": chat.throttle_rate_per_second, "BurstLimit": chat.throttle_burst},
            "Quota": {"Limit": chat.daily_request_quota, "Period": "DAY"},
        },
    )
    assert len(resources(env.template, "AWS::ApiGateway::UsagePlanKey")) == 1


def test_the_chat_function_may_read_its_secret_and_use_its_table_and_nothing_else(
    env: SynthesizedEnvironment,
) -> None:
    # Given the chat function's permissions
    _, chat = chat_function(env.template)
    statements = role_statements(env.template, chat["Role"]["Fn::GetAtt"][0])
    sessions = env.logical_id(env.stack.chat.table)
    jobs = env.logical_id(env.stack.batch.table)
    quota = env.logical_id(env.stack.user_quota.table) if env.stack.user_quota else None

    # Then it reads exactly one secret: the environment's API key
    secret_resources = [s["Resource"] for s in statements if "secretsmanager:GetSecretValue" in actions(s)]
    assert secret_resources == [env.stack.resolve(env.stack.api_key_secret.secret.secret_arn)]
    # and touches its sessions table with what the session store does, the jobs table read-only (for
    # GET /jobs/{job_id}), the quota table as the user quota guard settles, and no other table
    actions_by_table = {
        statement["Resource"]["Fn::GetAtt"][0]: sorted(actions(statement))
        for statement in statements
        if actions(statement)[0].startswith("dynamodb:")
    }
    expected = {
        sessions: [
            "dynamodb:BatchWriteItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
        jobs: ["dynamodb:GetItem", "dynamodb:Query"],
    }
    if quota:
        expected[quota] = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert actions_by_table == expected
    # and the only wildcard is X-Ray's
    assert [actions(s) for s in statements if s["Resource"] == "*"] == [
        ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    ]


def test_the_sessions_table_is_on_demand_encrypted_expiring_and_recoverable_where_kept(
    env: SynthesizedEnvironment,
) -> None:
    sessions = env.logical_id(env.stack.chat.table)
    table = resources(env.template, "AWS::DynamoDB::GlobalTable")[sessions]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [
        {"AttributeName": "session_id", "KeyType": "HASH"},
        {"AttributeName": "seq", "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    (replica,) = table["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": env.config.removal_policy == "retain"
    }
    # and the function finds it
    _, chat = chat_function(env.template)
    assert chat["Environment"]["Variables"]["KIT_CHAT_SESSIONS_TABLE"] == {"Ref": sessions}


def test_without_snapstart_or_provisioned_concurrency_the_api_invokes_the_function_itself(
    env: SynthesizedEnvironment,
) -> None:
    if env.config.chat.snapstart or env.config.chat.provisioned_concurrency:
        pytest.skip("this environment publishes a version")
    assert resources(env.template, "AWS::Lambda::Alias") == {}
    _, chat = chat_function(env.template)
    assert "SnapStart" not in chat


# -- the switches cdk.json leaves off, on a stack holding only the chat API ---------------------------------


@dataclass(frozen=True)
class Variant:
    stack: Stack
    template: Template
    chat: ChatApi
    chat_config: ChatConfig


def synthesize_variant(tmp_path_factory: pytest.TempPathFactory, chat: ChatConfig) -> Variant:
    app = App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk-chat")))
    add_nag_checks(app)
    stack = Stack(app, "ChatApiUnderTest", env=Environment(region="eu-west-1"))
    config = EnvironmentConfig(region="eu-west-1", chat=chat)
    secret = ApiKeySecret(
        stack, "Secret", env_name="test", config=SecretConfig(), removal_policy=RemovalPolicy.DESTROY
    )
    construct = ChatApi(
        stack, "Chat", env_name="test", config=config, api_key_secret=secret, claude_environment={}
    )
    return Variant(stack, Template.from_stack(stack), construct, chat)


@pytest.fixture(scope="module")
def snapstart(tmp_path_factory: pytest.TempPathFactory) -> Variant:
    return synthesize_variant(
        tmp_path_factory,
        ChatConfig(
            snapstart=True,
            cognito_enabled=True,
            cors_allow_origins=("https://chat.example.com",),
            web_page=True,
            api_docs=True,
        ),
    )


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Variant:
    return synthesize_variant(
        tmp_path_factory,
        ChatConfig(
            provisioned_concurrency=2, system_prompt="You are the help desk.", params={"temperature": 0.2}
        ),
    )


def test_snapstart_snapshots_a_published_version_that_the_api_invokes_through_the_live_alias(
    snapstart: Variant,
) -> None:
    _, function = chat_function(snapstart.template)
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    ((alias_id, alias),) = resources(snapstart.template, "AWS::Lambda::Alias").items()
    assert alias["Name"] == "live"
    for route in APP_ROUTES:
        assert alias_id in flatten(app_methods(snapstart.template)[route]["Integration"]["Uri"])


def test_snapstart_hooks_reach_the_app_routes_that_release_per_environment_state(snapstart: Variant) -> None:
    # Given the adapter's hook and readiness settings
    _, function = chat_function(snapstart.template)
    variables = function["Environment"]["Variables"]

    # Then they name the app's own routes, which answer
    assert variables["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"] == lifecycle.BEFORE_CHECKPOINT_PATH
    assert variables["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"] == lifecycle.AFTER_RESTORE_PATH
    with TestClient(create_app(settings=ChatSettings(sessions_table="sessions"))) as client:
        assert client.post(variables["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"]).status_code == 204
        assert client.post(variables["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"]).status_code == 204
        assert client.get(variables["AWS_LWA_READINESS_CHECK_PATH"]).status_code == 200


def test_provisioned_concurrency_keeps_the_live_alias_warm(provisioned: Variant) -> None:
    ((alias_id, alias),) = resources(provisioned.template, "AWS::Lambda::Alias").items()
    assert alias["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 2}
    _, function = chat_function(provisioned.template)
    assert "SnapStart" not in function
    assert alias_id in flatten(app_methods(provisioned.template)[("POST", "/chat")]["Integration"]["Uri"])


def test_with_cognito_every_route_needs_a_user_pool_token_as_well_as_an_api_key(snapstart: Variant) -> None:
    for route, method in app_methods(snapstart.template).items():
        if route[1] in WEB_PAGE_PATHS + API_DOCS_PATHS:
            continue  # the browser routes: see the next test
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS", route
        assert method["ApiKeyRequired"] is True, route
    snapstart.template.has_resource_properties("AWS::Cognito::UserPool", {"MfaConfiguration": "ON"})


def test_the_page_and_the_docs_open_without_a_key_where_switched_on(
    env: SynthesizedEnvironment, snapstart: Variant
) -> None:
    browser_routes = {("GET", path) for path in WEB_PAGE_PATHS + API_DOCS_PATHS}
    # Given an environment of cdk.json, and a variant with both switches on
    for template, chat in ((env.template, env.config.chat), (snapstart.template, snapstart.chat_config)):
        methods = app_methods(template)
        _, function = chat_function(template)
        variables = function["Environment"]["Variables"]
        # Then the page's and the docs' routes exist exactly when switched on, and the app serves them
        expected = {("GET", path) for path in WEB_PAGE_PATHS if chat.web_page} | {
            ("GET", path) for path in API_DOCS_PATHS if chat.api_docs
        }
        assert set(methods) & browser_routes == expected
        assert variables.get("KIT_CHAT_WEB_PAGE") == ("true" if chat.web_page else None)
        assert variables.get("KIT_CHAT_API_DOCS") == ("true" if chat.api_docs else None)
        # and a browser opens them without an API key or a token, streamed from the same function
        for route in expected:
            assert methods[route]["ApiKeyRequired"] is False, route
            assert methods[route]["AuthorizationType"] == "NONE", route
            assert methods[route]["Integration"]["ResponseTransferMode"] == "STREAM", route
        # with the stage throttling each of them as the usage plan throttles one key (no key, no plan)
        (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
        throttled = {
            # CloudFormation's ResourcePath: "/" for the root, else "/" + the path with each "/" as "~1"
            (
                "GET",
                setting["ResourcePath"]
                if setting["ResourcePath"] == "/"
                else setting["ResourcePath"][1:].replace("~1", "/"),
            ): setting
            for setting in stage["MethodSettings"]
            if setting["HttpMethod"] == "GET"
        }
        assert set(throttled) == expected
        for setting in throttled.values():
            assert setting["ThrottlingRateLimit"] == chat.throttle_rate_per_second
            assert setting["ThrottlingBurstLimit"] == chat.throttle_burst


def test_cors_preflight_answers_only_the_configured_origins(snapstart: Variant) -> None:
    preflights = [
        props
        for props in resources(snapstart.template, "AWS::ApiGateway::Method").values()
        if props["HttpMethod"] == "OPTIONS"
    ]
    assert preflights
    for preflight in preflights:
        headers = preflight["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == "'https://chat.example.com'"
    _, function = chat_function(snapstart.template)
    assert (
        function["Environment"]["Variables"]["KIT_CHAT_CORS_ALLOW_ORIGINS"] == '["https://chat.example.com"]'
    )


@pytest.mark.parametrize("variant", ["snapstart", "provisioned"])
def test_cdk_nag_finds_nothing_unacknowledged_and_every_acknowledgement_has_a_reason(
    variant: str, request, nag_findings, acknowledgements
) -> None:
    under_test: Variant = request.getfixturevalue(variant)
    assert nag_findings(under_test.stack) == []
    assert all(len(ack.reason.split()) >= 8 for ack in acknowledgements(under_test.chat))


def test_the_environments_prompt_and_params_reach_the_chat_function(provisioned: Variant) -> None:
    _, function = chat_function(provisioned.template)
    variables = function["Environment"]["Variables"]
    assert variables["KIT_CHAT_SYSTEM_PROMPT"] == "You are the help desk."
    assert variables["KIT_CHAT_PARAMS"] == '{"temperature": 0.2}'
    assert variables["KIT_CHAT_ALLOW_CALLER_SYSTEM"] == "false"
