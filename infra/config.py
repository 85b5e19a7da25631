"""Typed per-environment settings read from the `environments` block of cdk.json context.

Everything that differs between dev, staging and prod lives here and is validated once at synth time, so a
typo or an impossible value fails `cdk synth` with the key that is wrong instead of surfacing after a deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from infra.web_adapter import UnsupportedRegionError, adapter_layer_arn

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
#: Lambda caps all of a function's environment variables at 4 KB together (AWS Lambda quotas): a longer
#: prompt goes in a file shipped with the functions (`chat.system_prompt_file`) instead.
InlinePrompt = Annotated[str, Field(min_length=1, max_length=2_000)]
LayerArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[\w-]+:\d+$")]

# The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


#: Repository root: `chat.system_prompt_file` is a path from here.
ROOT = Path(__file__).resolve().parents[1]
#: Messages API sampling parameters an environment may set for the chat (anything else is a typo to catch).
CHAT_PARAMS = frozenset({"temperature", "top_p", "top_k", "stop_sequences"})

#: The first Lambda Web Adapter layer (arm64) that relays SnapStart runtime hooks to the web app.
LWA_SNAPSTART_LAYER_VERSION = 30


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClaudeConfig(_Strict):
    model: str = "claude-sonnet-5-5"
    fallback_model: str | None = "claude-haiku-5-5"
    allowed_models: tuple[str, ...] = ("claude-sonnet-5-5", "claude-haiku-5-5")
    max_tokens_cap: PositiveInt = 4096
    context_max_turns: PositiveInt = 40
    context_max_tokens: PositiveInt = 100_000
    #: Prices override (USD per million tokens) merged over functions/claude_kit/data/models.json, e.g.
    #: {"claude-sonnet-5": {"input": 3.0, "output": 15.0}} if your invoices show the disputed higher price.
    price_overrides: dict[str, dict[str, float]] = Field(default_factory=dict)
    #: Chat streams: retry waits never end later than this after the request began (null: no limit).
    first_token_deadline_seconds: PositiveFloat | None = 30.0
    #: Retry attempts that may have been billed without an answer (a whole message's read timeout). Off:
    #: such a retry can bill twice; on: each one is counted in AmbiguousAttempts and PossiblyBilledCostUSD.
    retry_ambiguous: bool = False
    #: Mark stable prompt prefixes for caching (claude_kit.prompt_cache); off only to compare costs.
    prompt_caching: bool = True
    #: Manual attestation: the monthly spend limit (USD) set on this environment's Anthropic workspace in the
    #: Console, which `bin/kit readiness` trusts (reading it needs Admin API early access); null: not set.
    workspace_spend_limit_usd: PositiveFloat | None = None
    #: For `bin/kit readiness --live` to read that limit through the Admin API (early access): the workspace
    #: of this environment's key (`wrkspc_...`) and a secret holding an Admin API key, never the runtime key.
    workspace_id: Annotated[str, Field(pattern=r"^wrkspc_\w+$")] | None = None
    admin_key_secret_name: str | None = None

    @model_validator(mode="after")
    def _models_allowed(self) -> ClaudeConfig:
        for field in ("model", "fallback_model"):
            value = getattr(self, field)
            if value is not None and value not in self.allowed_models:
                allowed = list(self.allowed_models)
                raise ValueError(f"{field} {value!r} must be one of allowed_models {allowed}")
        return self


class SecretConfig(_Strict):
    #: Import this existing secret by name instead of creating /claude-kit/<env>/anthropic-api-key.
    existing_secret_name: str | None = None
    cache_ttl_seconds: PositiveInt = 300


class ChatConfig(_Strict):
    memory_mb: Annotated[int, Field(ge=128, le=10240)] = 1024
    timeout_seconds: Annotated[int, Field(ge=30, le=900)] = 900
    reserved_concurrency: PositiveInt | None = None
    provisioned_concurrency: Annotated[int, Field(ge=0)] = 0
    snapstart: bool = False
    #: Pinned AWS Lambda Web Adapter layer version (arm64), account 753240598075. 30 is LWA 1.1.0, the first
    #: release that forwards SnapStart's before-checkpoint / after-restore hooks to the app (docs/chat.md).
    lwa_layer_version: PositiveInt = 30
    #: The adapter layer to use instead of the published one (infra/web_adapter.py): for a region where the
    #: adapter publishes no arm64 layer, a layer you publish there from the adapter's release.
    lwa_layer_arn: LayerArn | None = None
    throttle_rate_per_second: PositiveFloat = 10
    throttle_burst: PositiveInt = 20
    daily_request_quota: PositiveInt = 10_000
    cognito_enabled: bool = False
    cors_allow_origins: tuple[str, ...] = ()
    #: Serve the browser chat page at the stage's root (`GET /`, `/ui/…`); the page asks for the API key.
    web_page: bool = False
    #: Serve the API docs (Swagger UI at `/docs`, `/openapi.json`); "Try it out" asks for the API key.
    api_docs: bool = False
    message_max_chars: PositiveInt = 32_000
    session_ttl_days: PositiveInt = 30
    #: The server-side system prompt of every chat call: inline, or a file under functions/ (shipped with the
    #: function). docs/customize.md.
    system_prompt: InlinePrompt | None = None
    system_prompt_file: Annotated[str, Field(pattern=r"^functions/[\w./-]+$")] | None = None
    #: Whether a caller may send its own `system` (it then replaces the server's); no: a 422 names the field.
    allow_caller_system: bool = False
    #: Sampling defaults for every chat call (temperature, top_p, top_k, stop_sequences).
    params: dict[str, Any] = Field(default_factory=dict)
    #: max_tokens when the caller sends none (default: claude.max_tokens_cap).
    default_max_tokens: PositiveInt | None = None
    #: Seconds of silence after which a chat stream writes a keep-alive comment; API Gateway closes a REGIONAL
    #: streaming response after 5 minutes without a byte (docs/chat.md).
    keepalive_seconds: Annotated[int, Field(ge=1, le=240)] = 30
    #: Stored turns read to build a request's context (newest first, one query); the context window then keeps
    #: what fits.
    history_turns: Annotated[int, Field(ge=1, le=1000)] = 100

    @model_validator(mode="after")
    def _prompt_is_usable(self) -> ChatConfig:
        if self.system_prompt is not None and self.system_prompt_file is not None:
            raise ValueError("set system_prompt or system_prompt_file, not both")
        name = self.system_prompt_file
        if name is not None and (".." in Path(name).parts or not (ROOT / name).is_file()):
            raise ValueError(f"system_prompt_file {name!r}: no such file under functions/")
        if unknown := sorted(set(self.params) - CHAT_PARAMS):
            raise ValueError(f"params may only set {sorted(CHAT_PARAMS)}, not {unknown}")
        return self

    @model_validator(mode="after")
    def _snapstart_is_possible(self) -> ChatConfig:
        if self.snapstart and self.provisioned_concurrency:
            raise ValueError("snapstart and provisioned_concurrency cannot both be on (Lambda refuses it)")
        if self.snapstart and self.lwa_layer_version < LWA_SNAPSTART_LAYER_VERSION:
            raise ValueError(
                f"snapstart needs lwa_layer_version >= {LWA_SNAPSTART_LAYER_VERSION} (Lambda Web Adapter 1.1)"
            )
        return self


class QueueConfig(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
    mode: Literal["batch", "realtime"] = "batch"
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    max_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 30
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    max_concurrency: Annotated[int, Field(ge=2, le=1000)] = 2
    consumer_timeout_seconds: Annotated[int, Field(ge=10, le=900)] = 120
    consumer_memory_mb: Annotated[int, Field(ge=128, le=10240)] = 512
    #: Largest SQS message (work item + attributes). SQS takes up to 1 MiB, but each item's record (request
    #: included) must fit DynamoDB's 400 KB item limit: 380,000 bytes leaves room for the record's own fields.
    max_message_bytes: Annotated[int, Field(ge=4096, le=380_000)] = 262_144

    @model_validator(mode="after")
    def _window_allows_batch_size(self) -> QueueConfig:
        if self.batch_size > 10 and self.max_batching_window_seconds == 0:
            raise ValueError("batch_size above 10 needs max_batching_window_seconds >= 1 (Lambda refuses it)")
        return self


class BatchConfig(_Strict):
    queues: tuple[QueueConfig, ...] = (QueueConfig(name="default"),)
    poll_interval_minutes: PositiveInt = 5
    results_expire_days: PositiveInt = 90

    @model_validator(mode="after")
    def _queue_names_unique(self) -> BatchConfig:
        names = [queue.name for queue in self.queues]
        if len(set(names)) != len(names):
            raise ValueError(f"queue names must be unique, got {names}")
        return self


#: Keys renamed so each says which bill it is about; an old key fails synth naming its new name.
RENAMED_ALERT_KEYS = {
    "daily_cost_threshold_usd": "claude_daily_usd",
    "monthly_budget_usd": "aws_monthly_budget_usd",
}


class AlertsConfig(_Strict):
    """Thresholds say which bill they are about: `claude_*` Anthropic's, `aws_*` AWS's (docs/alarms.md)."""

    emails: tuple[EmailStr, ...] = ()
    #: Claude spend over a rolling 24 hours (the kit's estimate) that closes the spend guard.
    claude_daily_usd: PositiveFloat = 50
    #: Month-to-date Claude spend (the larger of the kit's estimate and Anthropic's reported cost) that closes
    #: the spend guard; None turns the monthly Claude brake off.
    claude_monthly_usd: PositiveFloat | None = 1000
    #: The AWS Budgets budget (this environment's AWS costs, by its cost-allocation tag) and the account
    #: billing alarm.
    aws_monthly_budget_usd: PositiveFloat = 1000
    #: Notify at these percentages of the daily and monthly Claude budgets, once per day / month each.
    budget_warning_percents: tuple[Annotated[int, Field(gt=0, le=100)], ...] = (50, 80, 100)
    #: The account-wide `AWS/Billing EstimatedCharges` alarm: only the paying account of an AWS Organization
    #: has that metric, so switch it off in a member account (docs/alarms.md).
    aws_account_billing_alarm: bool = True
    #: Closing the spend switch also cancels the Message Batches in flight (their items become CANCELED and
    #: are requeued when the poller collects them); off by default: they finish and bill.
    spend_guard_cancel_batches: bool = False

    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5
    latency_p99_ms: PositiveInt = 60_000
    ttft_p95_ms: PositiveInt = 5_000
    throttles_per_5_minutes: PositiveInt = 10
    oldest_message_age_seconds: PositiveInt = 3600
    spend_guard_enabled: bool = True
    spend_guard_auto_reopen_daily: bool = True
    user_daily_usd_allowance: PositiveFloat | None = 5.0
    user_daily_token_allowance: PositiveInt | None = None
    #: Fallback-model calls per 5 minutes above which the primary model is considered unhealthy.
    fallbacks_per_5_minutes: PositiveInt = 5
    #: Extra HTTPS subscribers of the alert topic (PagerDuty, Opsgenie … SNS integration URLs).
    https_subscriptions: tuple[Annotated[str, Field(pattern=r"^https://")], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        for old, new in RENAMED_ALERT_KEYS.items():
            if isinstance(data, dict) and old in data:
                raise ValueError(f"{old} is now {new} (the key names the bill it is about)")
        return data


class ReconciliationConfig(_Strict):
    """Anthropic's Usage & Cost report against the kit's estimate (functions/reconciliation); off until an
    Admin API key is stored in `admin_key_secret_name` (create the secret yourself, never in cdk.json)."""

    admin_key_secret_name: str | None = None
    #: The environment's runtime API key id (`apikey_…`, Console → Settings → API keys): its report rows.
    anthropic_api_key_id: Annotated[str, Field(pattern=r"^apikey_[A-Za-z0-9]+$")] | None = None
    #: A workspace only this environment uses: its cost report USD becomes the month's reported cost.
    anthropic_workspace_id: str | None = None
    #: Estimate-vs-reported gap over the last complete 24 hours that raises the drift alarm.
    drift_percent: PositiveFloat = 5
    #: Report buckets younger than this are not compared (the report arrives minutes to an hour late).
    report_delay_minutes: Annotated[int, Field(ge=0, le=1440)] = 60


class CiConfig(_Strict):
    """GitHub Actions deploy access for this environment (infra/ci_access_stack.py, docs/pipeline.md)."""

    #: "owner/name" of the repository whose workflow may deploy this environment; null: no CI access stack.
    github_repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")] | None = None
    #: The account's existing GitHub OIDC provider (an account holds one: the second environment imports it).
    github_oidc_provider_arn: (
        Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/")] | None
    ) = None
    #: Qualifier of the CDK bootstrap roles (`cdk bootstrap --qualifier`; the CDK's default otherwise).
    bootstrap_qualifier: Annotated[str, Field(pattern=r"^[a-z0-9]{1,10}$")] = "hnb659fds"


class EnvironmentConfig(_Strict):
    """One deployable environment (dev, staging, prod …)."""

    account: Annotated[str, Field(pattern=r"^(\d{12}|unknown)$")] = "unknown"
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] = "us-east-1"
    log_retention_days: int = 30
    removal_policy: Literal["destroy", "retain"] = "destroy"
    #: Refuse `cdk destroy` / stack deletion until switched off again (prod).
    termination_protection: bool = False
    #: POWERTOOLS_LOG_LEVEL of every function.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    claude: ClaudeConfig = ClaudeConfig()
    secret: SecretConfig = SecretConfig()
    chat: ChatConfig = ChatConfig()
    batch: BatchConfig = BatchConfig()
    alerts: AlertsConfig = AlertsConfig()
    reconciliation: ReconciliationConfig = ReconciliationConfig()
    ci: CiConfig = CiConfig()

    @model_validator(mode="after")
    def _reconciliation_names_its_key(self) -> EnvironmentConfig:
        recon = self.reconciliation
        if recon.admin_key_secret_name is not None and recon.anthropic_api_key_id is None:
            raise ValueError(
                "reconciliation.anthropic_api_key_id is required with reconciliation.admin_key_secret_name"
            )
        return self

    @model_validator(mode="after")
    def _retention_is_valid(self) -> EnvironmentConfig:
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"log_retention_days must be one of {LOG_RETENTION_DAYS}")
        return self

    @model_validator(mode="after")
    def _chat_max_tokens_within_cap(self) -> EnvironmentConfig:
        cap = self.claude.max_tokens_cap
        if self.chat.default_max_tokens is not None and self.chat.default_max_tokens > cap:
            raise ValueError(f"chat.default_max_tokens must be at most claude.max_tokens_cap ({cap})")
        return self

    @model_validator(mode="after")
    def _web_adapter_is_published(self) -> EnvironmentConfig:
        if self.chat.lwa_layer_arn is None:
            try:
                adapter_layer_arn(self.region, self.chat.lwa_layer_version)
            except UnsupportedRegionError as exc:
                raise ValueError(f"region {self.region}: {exc}") from exc
        return self

    @property
    def account_or_none(self) -> str | None:
        return None if self.account == "unknown" else self.account


class ConfigError(ValueError):
    """cdk.json holds a value the kit cannot deploy; the message names the key."""


def _format(env_name: str, exc: ValidationError) -> str:
    lines = [f"cdk.json: invalid settings for environment {env_name!r}:"]
    for error in exc.errors():
        key = ".".join(str(part) for part in ("environments", env_name, *error["loc"]))
        lines.append(f"  {key}: {error['msg']}")
    return "\n".join(lines)


def load_environment(environments: Any, env_name: str) -> EnvironmentConfig:
    """Validate the block for `env_name` from the `environments` context value."""
    if not isinstance(environments, dict) or not environments:
        raise ConfigError("cdk.json: context key 'environments' must map environment names to settings")
    if env_name not in environments:
        raise ConfigError(
            f"cdk.json: unknown environment {env_name!r} (-c env=...); known: {sorted(environments)}"
        )
    try:
        return EnvironmentConfig.model_validate(environments[env_name])
    except ValidationError as exc:
        raise ConfigError(_format(env_name, exc)) from exc
