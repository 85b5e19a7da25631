"""THE one way the kit builds a Python Lambda function, so every function runs, logs and traces the same way.

Each function gets its code asset (infra/bundling.py: its code and the dependencies it imports, no more),
Python 3.13 on arm64 (cheaper per GB-second and what the bundle is built for), its own log group with the
environment's retention and removal policy, a role that may write only to that log group, X-Ray active
tracing, and the Powertools settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from claude_kit import contract
from claude_kit.contract import Env
from infra.bundling import ARCHITECTURE, RUNTIME, function_code
from infra.config import EnvironmentConfig
from infra.function_assets import asset_for_handler
from infra.function_environment import claude_environment
from infra.nag import acknowledge
from infra.retention import log_group

__all__ = ["claude_environment", "kit_python_function"]

SERVICE_NAME = "claude-serverless-kit"


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
        code=function_code(asset_for_handler(handler)),
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
        Env.ENV_NAME: env_name,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        # Handler return values are user conversations: keep them out of X-Ray trace metadata.
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    }
