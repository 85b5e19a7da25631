"""THE one way the kit builds a Python Lambda function, so every function runs, logs and traces the same way.

Each function gets the shared code asset (infra/bundling.py), Python 3.13 on arm64 (cheaper per GB-second and
what the bundle is built for), its own log group with the environment's retention and removal policy, a role
that may write only to that log group, X-Ray active tracing, and the Powertools settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bundling import ARCHITECTURE, RUNTIME, function_code
from infra.config import EnvironmentConfig
from infra.nag import acknowledge
from infra.retention import log_group

SERVICE_NAME = "claude-serverless-kit"
METRICS_NAMESPACE = "ClaudeServerlessKit"


def kit_python_function(
    scope: Construct,
    construct_id: str,
    *,
    env_name: str,
    config: EnvironmentConfig,
    handler: str,
    description: str,
    memory_mb: int,
    timeout: Duration,
    environment: Mapping[str, str] | None = None,
    layers: Sequence[lambda_.ILayerVersion] = (),
    reserved_concurrency: int | None = None,
    snap_start: bool = False,
    function_name: str | None = None,
) -> lambda_.Function:
    """A function running `handler` from the shared asset; `environment` adds to (or overrides) the defaults.

    The log group and role are siblings of the function in `scope`, named `<construct_id>Logs` / `Role`.
    """
    function_logs = log_group(scope, f"{construct_id}Logs", config=config)
    # Not the default role: its AWSLambdaBasicExecutionRole would let the function write to every log group.
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{description} (claude-kit {env_name})",
    )
    function_logs.grant_write(role)
    function = lambda_.Function(
        scope,
        construct_id,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        code=function_code(),
        handler=handler,
        description=description,
        memory_size=memory_mb,
        timeout=timeout,
        role=role,
        log_group=function_logs,
        tracing=lambda_.Tracing.ACTIVE,
        layers=list(layers),
        reserved_concurrent_executions=reserved_concurrency,
        snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
        environment={**_powertools_environment(env_name, config), **(environment or {})},
        # Only for functions operators invoke by name (the spend guard); CloudFormation names the others.
        function_name=function_name,
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        reason=(
            "Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no "
            "resource-level permissions; tests/infra assert that X-Ray is the only wildcard resource."
        ),
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        reason=(
            "Pinned to Python 3.13: the bundle's bytecode (cpython-313 .pyc), its wheels and the development "
            "toolchain target it; move infra/bundling.py, the Makefile and .venv to a newer runtime together."
        ),
    )
    return function


def _powertools_environment(env_name: str, config: EnvironmentConfig) -> dict[str, str]:
    return {
        "KIT_ENV_NAME": env_name,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        # Handler return values are user conversations: keep them out of X-Ray trace metadata.
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    }


def claude_environment(config: EnvironmentConfig, *, api_key_secret_name: str) -> dict[str, str]:
    """The `KIT_*` settings (functions/claude_kit/settings.py) every function that calls Claude needs."""
    claude = config.claude
    environment = {
        "KIT_API_KEY_SECRET_NAME": api_key_secret_name,
        "KIT_SECRET_CACHE_TTL_SECONDS": str(config.secret.cache_ttl_seconds),
        "KIT_MODEL": claude.model,
        "KIT_ALLOWED_MODELS": json.dumps(list(claude.allowed_models)),
        "KIT_MAX_TOKENS_CAP": str(claude.max_tokens_cap),
        "KIT_CONTEXT_MAX_TURNS": str(claude.context_max_turns),
        "KIT_CONTEXT_MAX_TOKENS": str(claude.context_max_tokens),
        "KIT_RETRY_AMBIGUOUS": json.dumps(claude.retry_ambiguous),
    }
    if claude.first_token_deadline_seconds is not None:
        environment["KIT_FIRST_TOKEN_DEADLINE_SECONDS"] = str(claude.first_token_deadline_seconds)
    if claude.fallback_model:
        environment["KIT_FALLBACK_MODEL"] = claude.fallback_model
    if not claude.prompt_caching:
        environment["KIT_PROMPT_CACHING"] = "false"
    if claude.price_overrides:
        environment["KIT_PRICE_OVERRIDES"] = json.dumps(claude.price_overrides, sort_keys=True)
    return environment
