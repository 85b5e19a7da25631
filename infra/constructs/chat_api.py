"""The streaming chat API: API Gateway REST API (REGIONAL, response streaming) → the chat Lambda, where the
AWS Lambda Web Adapter runs the FastAPI app (functions/chat_api) and streams its responses back.

Managed Python runtimes cannot stream a response from a handler; the adapter can, from an ordinary ASGI app.
Every route of the app is a Lambda proxy integration in `STREAM` transfer mode (the function answers in the
adapter's streaming format, which a buffered integration cannot read), with a 15-minute timeout: the longest a
streamed response may last. See docs/chat.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from claude_kit import contract
from infra.config import EnvironmentConfig
from infra.constructs.api_key_secret import ApiKeySecret
from infra.function_environment import chat_environment
from infra.lambda_function import kit_python_function
from infra.nag import acknowledge
from infra.retention import log_group, removal_policy
from infra.tables import kit_table
from infra.web_adapter import adapter_layer_arn

#: What `run.sh` serves on, and what the adapter forwards to.
APP_PORT = 8080
#: The longest a streamed response may last (API Gateway's limit for response streaming).
STREAM_TIMEOUT = Duration.minutes(15)
#: The alias API Gateway invokes when SnapStart or provisioned concurrency needs a published version.
LIVE_ALIAS = "live"
#: The app's browser routes (functions/chat_api/web.py), each behind its switch: static files, no user data.
WEB_PAGE_PATHS = ("/", "/ui/{proxy+}")
API_DOCS_PATHS = ("/docs", "/docs/{proxy+}", "/openapi.json")


class ChatApi(Construct):
    """`api`, `function` (its `handler` is what API Gateway invokes: the `live` alias or the function),
    `table` (sessions), `usage_plan`, `api_key`, `user_pool` (None unless `chat.cognito_enabled`).

    `add_app_route(method, path)` routes another path of the same app (e.g. the batch helper's
    `GET /jobs/{job_id}`) with the same streaming integration and the same authorization.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        config: EnvironmentConfig,
        api_key_secret: ApiKeySecret,
        claude_environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        chat = config.chat

        self.table = kit_table(
            self,
            "Sessions",
            config=config,
            definition=contract.SESSIONS_TABLE,
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            point_in_time_recovery=config.removal_policy == "retain",
        )
        if config.removal_policy != "retain":
            acknowledge(
                self.table,
                "AwsSolutions-DDB3",
                reason=(
                    "Point-in-time recovery follows removal_policy: on where the environment keeps its data "
                    "(prod, removal_policy retain), off where conversations are disposable test data."
                ),
            )

        self.function = kit_python_function(
            self,
            "Function",
            env_name=env_name,
            config=config,
            handler="chat_api/run.sh",
            description="Chat API: FastAPI under the Lambda Web Adapter, streaming Claude's answers",
            memory_mb=chat.memory_mb,
            timeout=Duration.seconds(chat.timeout_seconds),
            environment={**claude_environment, **self._environment(config, self.table.table_name)},
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self,
                    "WebAdapter",
                    chat.lwa_layer_arn or adapter_layer_arn(config.region, chat.lwa_layer_version),
                )
            ],
            reserved_concurrency=chat.reserved_concurrency,
            snap_start=chat.snapstart,
        )
        api_key_secret.grant_read(self.function)
        # Exactly what chat_api/sessions.py does: query a session, put/update turns in a transaction, delete.
        self.table.grant(
            self.function,
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        )

        # SnapStart snapshots a published version; provisioned concurrency keeps one warm. Either way API
        # Gateway must invoke that version, through an alias that each deployment moves.
        self.handler: lambda_.IFunction = self.function
        if chat.snapstart or chat.provisioned_concurrency:
            self.handler = lambda_.Alias(
                self,
                "Live",
                alias_name=LIVE_ALIAS,
                version=self.function.current_version,
                provisioned_concurrent_executions=chat.provisioned_concurrency or None,
            )

        access_logs = log_group(self, "AccessLogs", config=config)
        browser_paths = (WEB_PAGE_PATHS if chat.web_page else ()) + (API_DOCS_PATHS if chat.api_docs else ())
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"claude-kit-{env_name}-chat",
            description=f"claude-kit {env_name}: streaming chat with Claude",
            # Edge-optimized endpoints cut a stream after 30 s without a byte; regional ones after 5 minutes.
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            deploy_options=apigateway.StageOptions(
                stage_name=env_name,
                tracing_enabled=True,
                metrics_enabled=True,
                # Errors only, and never request/response bodies: they are users' conversations.
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                method_options=self._browser_route_limits(browser_paths, config),
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
            # Logging needs the account's API Gateway → CloudWatch Logs role; kept if this stack goes.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            default_cors_preflight_options=(
                apigateway.CorsOptions(
                    allow_origins=list(chat.cors_allow_origins),
                    allow_methods=["GET", "POST", "DELETE"],
                    allow_headers=["Content-Type", "Authorization", "X-Api-Key"],
                )
                if chat.cors_allow_origins
                else None
            ),
        )

        self.usage_plan = self.api.add_usage_plan(
            "UsagePlan",
            name=f"claude-kit-{env_name}-chat",
            description="Per API key: request rate and daily quota of the chat API",
            throttle=apigateway.ThrottleSettings(
                rate_limit=chat.throttle_rate_per_second, burst_limit=chat.throttle_burst
            ),
            quota=apigateway.QuotaSettings(limit=chat.daily_request_quota, period=apigateway.Period.DAY),
            api_stages=[apigateway.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        self.api_key = self.api.add_api_key("ApiKey", api_key_name=f"claude-kit-{env_name}-chat")
        self.usage_plan.add_api_key(self.api_key)

        self.user_pool: cognito.UserPool | None = None
        self._authorizer: apigateway.IAuthorizer | None = None
        if chat.cognito_enabled:
            self._authorizer = self._cognito_authorizer(env_name, config)

        self._integration = apigateway.LambdaIntegration(
            self.handler,
            response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
            timeout=STREAM_TIMEOUT,
        )
        self.add_app_route("POST", "/chat")
        self.add_app_route("GET", "/chat/{session_id}")
        self.add_app_route("DELETE", "/chat/{session_id}")
        self.add_app_route("GET", "/health")
        # The Lambda API reference says InvokeWithResponseStream needs only lambda:InvokeFunction, which the
        # integration grants per method; other sources grant lambda:InvokeWithResponseStream as well
        # (swift-server/swift-aws-lambda-runtime Examples/Streaming+APIGateway/template.yaml, anomalyco/sst
        # issue 6565). Unsettled (aws-deploy-facts.md), so granted explicitly, to this API only.
        self.handler.add_permission(
            "StreamingInvoke",
            principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
            action="lambda:InvokeWithResponseStream",
            source_arn=self.api.arn_for_execute_api(),
        )
        self._acknowledge_api_findings(cognito_enabled=chat.cognito_enabled)
        for path in browser_paths:
            self._add_browser_route(path)

        CfnOutput(self, "ChatUrl", value=self.api.url_for_path("/chat"), description="POST messages here")
        if chat.web_page:
            CfnOutput(self, "PageUrl", value=self.api.url_for_path("/"), description="The chat page")
        if chat.api_docs:
            CfnOutput(self, "DocsUrl", value=self.api.url_for_path("/docs"), description="The API docs")
        CfnOutput(
            self,
            "ApiKeyId",
            value=self.api_key.key_id,
            description="aws apigateway get-api-key --include-value --api-key <id>: the x-api-key value",
        )

    def add_app_route(self, method: str, path: str) -> apigateway.Method:
        """`method path` of the chat app: streamed, API key required, and Cognito when it is on."""
        return self.api.root.resource_for_path(path).add_method(
            method,
            self._integration,
            api_key_required=True,
            authorizer=self._authorizer,  # None: API key only
        )

    @staticmethod
    def _browser_route_limits(
        paths: tuple[str, ...], config: EnvironmentConfig
    ) -> dict[str, apigateway.MethodDeploymentOptions]:
        """No API key on the browser routes, so no usage plan limits them: the stage throttles each one (all
        browsers together) at the rate one key gets, with the stage's own logging settings."""
        limits = apigateway.MethodDeploymentOptions(
            throttling_rate_limit=config.chat.throttle_rate_per_second,
            throttling_burst_limit=config.chat.throttle_burst,
            metrics_enabled=True,
            logging_level=apigateway.MethodLoggingLevel.ERROR,
            data_trace_enabled=False,
        )
        return {f"{path}/GET": limits for path in paths}  # the root's key is "//GET"

    def _add_browser_route(self, path: str) -> None:
        """`GET path` of the page or the docs: no API key, since a browser cannot send one when it opens a
        URL. They are the function's static files and the API's description; every call they make to the
        API still needs the key (and the Cognito token when that is on)."""
        method = self.api.root.resource_for_path(path).add_method(
            "GET",
            self._integration,
            api_key_required=False,
            authorization_type=apigateway.AuthorizationType.NONE,
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                method,
                rule,
                reason=(
                    "Serves the chat page or the API docs, static files without user data, to a browser that "
                    "cannot send an API key when it opens a URL; every API route they call needs the key."
                ),
            )

    @staticmethod
    def _environment(config: EnvironmentConfig, table_name: str) -> dict[str, str]:
        chat = config.chat
        environment = {
            # The adapter starts run.sh instead of the Python runtime, and streams what the app answers.
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
            "AWS_LWA_INVOKE_MODE": "response_stream",
            "AWS_LWA_READINESS_CHECK_PATH": contract.HEALTH_PATH,
            "PORT": str(APP_PORT),
            **chat_environment(config, sessions_table=table_name),
        }
        if chat.snapstart:
            environment["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"] = (
                contract.SNAPSTART_BEFORE_CHECKPOINT_PATH
            )
            environment["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"] = contract.SNAPSTART_AFTER_RESTORE_PATH
        return environment

    def _cognito_authorizer(self, env_name: str, config: EnvironmentConfig) -> apigateway.IAuthorizer:
        """A user pool whose ID tokens authorize the API; each user is identified by the token's `sub`."""
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=f"claude-kit-{env_name}-chat",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_symbols=True,
                require_uppercase=True,
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=removal_policy(config),
        )
        client = self.user_pool.add_client("App", auth_flows=cognito.AuthFlow(user_srp=True))
        CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=client.user_pool_client_id)
        return apigateway.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])

    def _acknowledge_api_findings(self, *, cognito_enabled: bool) -> None:
        acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            reason=(
                "The app validates every request with pydantic and answers 422 naming each bad field before "
                "anything is stored or sent to Claude; an API Gateway model would be a second copy of that "
                "schema, and would drift."
            ),
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            reason=(
                "Every method needs an API key whose usage plan throttles and caps it per day (config "
                "chat.throttle_*, daily_request_quota), and the spend guard caps the cost. Associate a WAF "
                "web ACL with the stage for IP-based rules if the API is public."
            ),
        )
        if not cognito_enabled:
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(
                    self.api,
                    rule,
                    reason=(
                        "Callers are authorized by API key (api_key_required on every method, one usage plan "
                        "per environment); set chat.cognito_enabled for a Cognito user pool authorizer."
                    ),
                )
        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            reason=(
                "The account-level role API Gateway needs to write access and error logs; AWS's managed "
                "policy for it allows only CloudWatch Logs writes."
            ),
        )
