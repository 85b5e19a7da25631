"""The names infra/, functions/ and local/ must agree on, defined once: resource names, `KIT_*` variables,
metric names, hook paths and the DynamoDB tables' keys, indexes and TTL attribute.

Standard library only: the CDK app, the local stack and every Lambda function import it (it ships in
claude_kit, which every function's asset holds). A deployed name changed here renames the deployed resource,
and for a named table or queue that means a new, empty one: tests/infra pins them to literal values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

#: Every named resource starts with it, so the kit's resources sort together in each console.
PREFIX: Final = "claude-kit"


# -- resource names ------------------------------------------------------------------------------------------


def stack_name(env_name: str) -> str:
    return f"{PREFIX}-{env_name}"


def api_key_secret_name(env_name: str) -> str:
    """The secret the stack creates unless `secret.existing_secret_name` names one to import."""
    return f"/{PREFIX}/{env_name}/anthropic-api-key"


def switch_parameter_name(env_name: str) -> str:
    """The spend switch: an SSM parameter holding {"state": "open"|"closed", "reason": ...}."""
    return f"/{PREFIX}/{env_name}/spend-switch"


def warnings_parameter_name(env_name: str) -> str:
    """The budget warnings already sent this day / month (reconciliation.warnings)."""
    return f"/{PREFIX}/{env_name}/budget-warnings"


def guard_function_name(env_name: str) -> str:
    """Fixed, so `bin/kit spend-guard ... --env NAME` finds it."""
    return f"{PREFIX}-{env_name}-spend-guard"


def quota_table_name(env_name: str) -> str:
    """Fixed, so `bin/kit usage|quota --env ENV` finds it."""
    return f"{PREFIX}-{env_name}-user-quota"


def jobs_table_name(env_name: str) -> str:
    """Fixed, so `bin/kit results --env ENV` finds it."""
    return f"{PREFIX}-{env_name}-jobs"


def queue_name(env_name: str, queue: str) -> str:
    """Fixed, so `bin/kit enqueue --env ENV --queue NAME` finds it with GetQueueUrl."""
    return f"{PREFIX}-{env_name}-{queue}"


def dead_letter_queue_name(env_name: str, queue: str) -> str:
    return f"{queue_name(env_name, queue)}-dlq"


def dashboard_name(env_name: str) -> str:
    return f"{PREFIX}-{env_name}"


def budget_name(env_name: str) -> str:
    """The AWS Budgets budget of the environment's tagged resources."""
    return f"{PREFIX}-{env_name}"


def alarm_name(env_name: str, slug: str) -> str:
    """Alarm names sort by environment in the console and say what broke in the notification subject."""
    return f"{PREFIX}-{env_name}-{slug}"


#: The local stack's sessions table. Deployed, CloudFormation names it (a name set now would replace it).
LOCAL_SESSIONS_TABLE: Final = f"{PREFIX}-local-chat-sessions"


# -- the results bucket and the batch queues -----------------------------------------------------------------

#: Where the batch functions write in the results bucket; the stack grants exactly these prefixes.
RESULTS_PREFIX: Final = "results/"
REJECTIONS_PREFIX: Final = "rejections/"
#: The SQS message attribute the enqueue helper sets: how many items the message's job holds.
JOB_ITEMS_ATTRIBUTE: Final = "job_items"
#: The EventBridge event one finished batch job sends.
JOB_EVENT_SOURCE: Final = f"{PREFIX}.batch"
JOB_EVENT_DETAIL_TYPE: Final = "Claude Batch Job Completed"


# -- the chat app's paths that the Lambda Web Adapter calls --------------------------------------------------

HEALTH_PATH: Final = "/health"
SNAPSTART_BEFORE_CHECKPOINT_PATH: Final = "/_lwa/snapstart/before-checkpoint"
SNAPSTART_AFTER_RESTORE_PATH: Final = "/_lwa/snapstart/after-restore"


# -- metrics -------------------------------------------------------------------------------------------------

#: `POWERTOOLS_METRICS_NAMESPACE` of every function, and what the alarms and the dashboard read.
METRICS_NAMESPACE: Final = "ClaudeServerlessKit"
#: The dimension every metric carries (alone, for alarms; with Model and Route, for breakdowns).
ENVIRONMENT_DIMENSION: Final = "Environment"
MODEL_DIMENSION: Final = "Model"
ROUTE_DIMENSION: Final = "Route"


class Metric:
    """Every metric the functions publish (docs/metrics.md), which the alarms and the dashboard read."""

    # claude_kit.telemetry.record_call: one of each per Claude call, by {Environment, Model, Route} too
    CALLS: Final = "Calls"
    ERRORS: Final = "Errors"
    THROTTLES: Final = "Throttles"
    RETRIES: Final = "Retries"
    FALLBACKS: Final = "Fallbacks"
    INPUT_TOKENS: Final = "InputTokens"
    OUTPUT_TOKENS: Final = "OutputTokens"
    CACHE_CREATION_INPUT_TOKENS: Final = "CacheCreationInputTokens"
    CACHE_READ_INPUT_TOKENS: Final = "CacheReadInputTokens"
    UNKNOWN_MODEL_COST: Final = "UnknownModelCost"
    BILLED_ATTEMPTS: Final = "BilledAttempts"
    AMBIGUOUS_ATTEMPTS: Final = "AmbiguousAttempts"
    RATE_LIMIT_REQUESTS_REMAINING: Final = "RateLimitRequestsRemaining"
    RATE_LIMIT_TOKENS_REMAINING: Final = "RateLimitTokensRemaining"
    COST_USD: Final = "CostUSD"
    POSSIBLY_BILLED_COST_USD: Final = "PossiblyBilledCostUSD"
    LATENCY_MS: Final = "LatencyMs"
    TTFT_MS: Final = "TimeToFirstTokenMs"
    # claude_kit.telemetry.record_count: kit events, by {Environment}
    SPEND_GUARD_REJECTIONS: Final = "SpendGuardRejections"
    QUOTA_REJECTIONS: Final = "QuotaRejections"
    USER_ALLOWANCE_WARNINGS: Final = "UserAllowanceWarnings"
    BATCH_ITEMS_SUBMITTED: Final = "BatchItemsSubmitted"
    BATCH_ITEMS_SUCCEEDED: Final = "BatchItemsSucceeded"
    BATCH_ITEMS_ERRORED: Final = "BatchItemsErrored"
    BATCH_ITEMS_EXPIRED: Final = "BatchItemsExpired"
    BATCH_ITEMS_CANCELED: Final = "BatchItemsCanceled"
    BATCH_ITEMS_REJECTED: Final = "BatchItemsRejected"
    BATCH_ITEMS_PARKED: Final = "BatchItemsParked"
    # reconciliation: the Claude bill's hourly look, by {Environment}
    MONTH_TO_DATE_COST_USD: Final = "MonthToDateCostUSD"
    ESTIMATED_MONTH_TO_DATE_COST_USD: Final = "EstimatedMonthToDateCostUSD"
    REPORTED_MONTH_TO_DATE_COST_USD: Final = "ReportedMonthToDateCostUSD"
    REPORTED_COST_USD: Final = "ReportedCostUSD"
    ESTIMATED_COST_USD_IN_REPORT_WINDOW: Final = "EstimatedCostUSDInReportWindow"
    COST_DRIFT_PERCENT: Final = "CostDriftPercent"
    REPORTED_INPUT_TOKENS: Final = "ReportedInputTokens"
    REPORTED_OUTPUT_TOKENS: Final = "ReportedOutputTokens"
    REPORTED_CACHE_CREATION_INPUT_TOKENS: Final = "ReportedCacheCreationInputTokens"
    REPORTED_CACHE_READ_INPUT_TOKENS: Final = "ReportedCacheReadInputTokens"


def metric_names() -> frozenset[str]:
    """Every metric `Metric` names."""
    return frozenset(value for name, value in vars(Metric).items() if name.isupper())


# -- environment variables -----------------------------------------------------------------------------------

#: pydantic-settings reads `KIT_<FIELD>` (claude_kit.settings.KitSettings); the chat app `KIT_CHAT_<FIELD>`.
ENV_PREFIX: Final = "KIT_"
CHAT_ENV_PREFIX: Final = f"{ENV_PREFIX}CHAT_"


class Env:
    """The `KIT_*` variables the stack (or `make local`) sets; each is a field of a settings model in
    functions/ (tests/unit/claude_kit/test_contract.py checks every one against the models' fields)."""

    ENV_NAME: Final = "KIT_ENV_NAME"
    # claude_kit.settings.RuntimeSettings: every function that calls Claude
    API_KEY_SECRET_NAME: Final = "KIT_API_KEY_SECRET_NAME"
    SECRET_CACHE_TTL_SECONDS: Final = "KIT_SECRET_CACHE_TTL_SECONDS"
    CLAUDE_BASE_URL: Final = "KIT_CLAUDE_BASE_URL"
    MODEL: Final = "KIT_MODEL"
    FALLBACK_MODEL: Final = "KIT_FALLBACK_MODEL"
    ALLOWED_MODELS: Final = "KIT_ALLOWED_MODELS"
    MAX_TOKENS_CAP: Final = "KIT_MAX_TOKENS_CAP"
    CONTEXT_MAX_TURNS: Final = "KIT_CONTEXT_MAX_TURNS"
    CONTEXT_MAX_TOKENS: Final = "KIT_CONTEXT_MAX_TOKENS"
    PROMPT_CACHING: Final = "KIT_PROMPT_CACHING"
    RETRY_AMBIGUOUS: Final = "KIT_RETRY_AMBIGUOUS"
    RATE_LIMIT_MAX_ATTEMPTS: Final = "KIT_RATE_LIMIT_MAX_ATTEMPTS"
    FIRST_TOKEN_DEADLINE_SECONDS: Final = "KIT_FIRST_TOKEN_DEADLINE_SECONDS"
    PRICE_OVERRIDES: Final = "KIT_PRICE_OVERRIDES"
    # claude_kit.reservation.GuardrailSettings: the spend switch and the user quota
    SPEND_SWITCH_PARAMETER: Final = "KIT_SPEND_SWITCH_PARAMETER"
    SPEND_SWITCH_MAX_AGE_SECONDS: Final = "KIT_SPEND_SWITCH_MAX_AGE_SECONDS"
    QUOTA_TABLE: Final = "KIT_QUOTA_TABLE"
    USER_DAILY_USD_ALLOWANCE: Final = "KIT_USER_DAILY_USD_ALLOWANCE"
    USER_DAILY_TOKEN_ALLOWANCE: Final = "KIT_USER_DAILY_TOKEN_ALLOWANCE"
    # chat_api.settings.ChatSettings and chat_api.prompts.PromptSettings
    CHAT_SESSIONS_TABLE: Final = "KIT_CHAT_SESSIONS_TABLE"
    CHAT_MESSAGE_MAX_CHARS: Final = "KIT_CHAT_MESSAGE_MAX_CHARS"
    CHAT_SESSION_TTL_DAYS: Final = "KIT_CHAT_SESSION_TTL_DAYS"
    CHAT_KEEPALIVE_SECONDS: Final = "KIT_CHAT_KEEPALIVE_SECONDS"
    CHAT_HISTORY_TURNS: Final = "KIT_CHAT_HISTORY_TURNS"
    CHAT_LOCAL_MODE: Final = "KIT_CHAT_LOCAL_MODE"
    CHAT_CORS_ALLOW_ORIGINS: Final = "KIT_CHAT_CORS_ALLOW_ORIGINS"
    CHAT_WEB_PAGE: Final = "KIT_CHAT_WEB_PAGE"
    CHAT_API_DOCS: Final = "KIT_CHAT_API_DOCS"
    CHAT_SYSTEM_PROMPT: Final = "KIT_CHAT_SYSTEM_PROMPT"
    CHAT_SYSTEM_PROMPT_FILE: Final = "KIT_CHAT_SYSTEM_PROMPT_FILE"
    CHAT_ALLOW_CALLER_SYSTEM: Final = "KIT_CHAT_ALLOW_CALLER_SYSTEM"
    CHAT_PARAMS: Final = "KIT_CHAT_PARAMS"
    CHAT_DEFAULT_MAX_TOKENS: Final = "KIT_CHAT_DEFAULT_MAX_TOKENS"
    # batch_jobs.settings.BatchSettings: the consumers and the poller
    JOBS_TABLE: Final = "KIT_JOBS_TABLE"
    RESULTS_BUCKET: Final = "KIT_RESULTS_BUCKET"
    RESULTS_EXPIRE_DAYS: Final = "KIT_RESULTS_EXPIRE_DAYS"
    EVENT_BUS_NAME: Final = "KIT_EVENT_BUS_NAME"
    QUEUE_NAME: Final = "KIT_QUEUE_NAME"
    QUEUE_MODE: Final = "KIT_QUEUE_MODE"
    QUEUE_URL: Final = "KIT_QUEUE_URL"
    MAX_MESSAGE_BYTES: Final = "KIT_MAX_MESSAGE_BYTES"
    SPEND_GUARD_FUNCTION: Final = "KIT_SPEND_GUARD_FUNCTION"
    # spend_guard.settings.SpendGuardSettings
    SPEND_GUARD_ALARM_NAMES: Final = "KIT_SPEND_GUARD_ALARM_NAMES"
    SPEND_GUARD_BUDGET_NAME: Final = "KIT_SPEND_GUARD_BUDGET_NAME"
    SPEND_GUARD_TOPIC_ARN: Final = "KIT_SPEND_GUARD_TOPIC_ARN"
    SPEND_GUARD_AUTO_REOPEN: Final = "KIT_SPEND_GUARD_AUTO_REOPEN"
    SPEND_GUARD_CANCEL_BATCHES: Final = "KIT_SPEND_GUARD_CANCEL_BATCHES"
    BATCH_CONSUMER_MAPPINGS: Final = "KIT_BATCH_CONSUMER_MAPPINGS"
    # reconciliation.settings.BillSettings: the Claude bill function
    CLAUDE_DAILY_USD: Final = "KIT_CLAUDE_DAILY_USD"
    CLAUDE_MONTHLY_USD: Final = "KIT_CLAUDE_MONTHLY_USD"
    BUDGET_WARNING_PERCENTS: Final = "KIT_BUDGET_WARNING_PERCENTS"
    ALERT_TOPIC_ARN: Final = "KIT_ALERT_TOPIC_ARN"
    WARNINGS_PARAMETER: Final = "KIT_WARNINGS_PARAMETER"
    ADMIN_KEY_SECRET_NAME: Final = "KIT_ADMIN_KEY_SECRET_NAME"
    ANTHROPIC_API_KEY_ID: Final = "KIT_ANTHROPIC_API_KEY_ID"
    ANTHROPIC_WORKSPACE_ID: Final = "KIT_ANTHROPIC_WORKSPACE_ID"
    REPORT_DELAY_MINUTES: Final = "KIT_REPORT_DELAY_MINUTES"


def env_names() -> frozenset[str]:
    """Every variable `Env` names."""
    return frozenset(value for name, value in vars(Env).items() if name.isupper())


# -- DynamoDB tables -----------------------------------------------------------------------------------------

#: The epoch-seconds attribute DynamoDB's TTL deletes items by; every store writes it on every item.
EXPIRES_AT: Final = "expires_at"

AttributeType = Literal["S", "N"]


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class SecondaryIndex:
    """A global secondary index; sparse where only some items carry its partition key."""

    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: Literal["ALL", "KEYS_ONLY"] = "ALL"

    @property
    def key_names(self) -> tuple[str, ...]:
        """The attributes an item must carry to appear in the index: (partition key[, sort key])."""
        return tuple(key.name for key in (self.partition_key, self.sort_key) if key is not None)


@dataclass(frozen=True)
class TableDefinition:
    """What a store's code relies on: its keys, its indexes and the TTL attribute (on-demand billing and
    retention are infra/tables.py's, the same for every table)."""

    #: What the table is for: how tests and messages name it.
    role: str
    partition_key: KeyAttribute
    #: Every table of the kit has one: its items are grouped under a partition and ordered or kinded by it.
    sort_key: KeyAttribute
    indexes: tuple[SecondaryIndex, ...] = ()
    ttl_attribute: str = EXPIRES_AT

    @property
    def key_names(self) -> tuple[str, str]:
        """(partition key, sort key): what the store's items and `Key=` arguments are keyed by."""
        return self.partition_key.name, self.sort_key.name


#: chat_api.sessions: a session's header (`seq` 0) and its turns (`seq` 1, 2, …).
SESSIONS_TABLE: Final = TableDefinition(
    role="Sessions", partition_key=KeyAttribute("session_id"), sort_key=KeyAttribute("seq", "N")
)

#: claude_kit.user_quota: per user, one item per UTC day (`day` an ISO date) and the override (`allowance`).
USER_QUOTA_TABLE: Final = TableDefinition(
    role="UserQuota", partition_key=KeyAttribute("user_id"), sort_key=KeyAttribute("day")
)
#: The `day` of a user's allowance override item (`daily_usd`, `daily_tokens`), which `bin/kit quota` sets.
QUOTA_OVERRIDE_DAY: Final = "allowance"

#: batch_jobs.store: the open records by kind and age; the open items of a job (keys only: it only counts).
OPEN_RECORDS_INDEX: Final = SecondaryIndex(
    "open-records", partition_key=KeyAttribute("open_kind"), sort_key=KeyAttribute("opened_at")
)
OPEN_ITEMS_INDEX: Final = SecondaryIndex(
    "open-items", partition_key=KeyAttribute("open_job"), projection="KEYS_ONLY"
)
#: batch_jobs.store: jobs, their items and batches under generic keys (`pk`, `sk`), with two sparse indexes.
JOBS_TABLE: Final = TableDefinition(
    role="Jobs",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    indexes=(OPEN_RECORDS_INDEX, OPEN_ITEMS_INDEX),
)

TABLES: Final = (SESSIONS_TABLE, USER_QUOTA_TABLE, JOBS_TABLE)
