"""Saved Logs Insights queries over the structured "Claude call" log line of `claude_kit.telemetry`.

Each call logs one JSON line with message "Claude call" and the fields of `CallRecord.log_fields()` at top
level (Powertools drops fields whose value is None, so `ispresent(error_type)` means the call failed).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_logs as logs
from constructs import Construct

_CALLS = 'message = "Claude call"'
#: Long enough to be cacheable on every current model (the largest minimum is 4,096 tokens).
LONG_PROMPT_TOKENS = 4096

COST_BY_USER = logs.QueryString(
    filter_statements=[_CALLS],
    stats_statements=[
        "sum(cost_usd) as cost_usd, count(*) as calls, sum(input_tokens) as input_tokens, "
        "sum(output_tokens) as output_tokens by user_id"
    ],
    sort="cost_usd desc",
    limit=100,
)

SLOWEST_CALLS = logs.QueryString(
    fields=[
        "@timestamp",
        "latency_ms",
        "ttft_ms",
        "model",
        "route",
        "user_id",
        "output_tokens",
        "retries",
        "stop_reason",
        "request_id",
        "api_request_id",
    ],
    filter_statements=[_CALLS],
    sort="latency_ms desc",
    limit=50,
)

ERRORS_BY_TYPE = logs.QueryString(
    filter_statements=[_CALLS, "ispresent(error_type)"],
    stats_statements=["count(*) as errors by error_type, model, route"],
    sort="errors desc",
)

CACHE_MISSES_ON_LONG_PROMPTS = logs.QueryString(
    filter_statements=[
        _CALLS,
        "cache_read_input_tokens = 0",
        f"input_tokens + cache_creation_input_tokens >= {LONG_PROMPT_TOKENS}",
    ],
    stats_statements=[
        "count(*) as calls, sum(input_tokens) as uncached_input_tokens, "
        "sum(cache_creation_input_tokens) as cache_write_tokens, sum(cost_usd) as cost_usd by model, route"
    ],
    sort="uncached_input_tokens desc",
)

QUERIES = {
    "cost-by-user": COST_BY_USER,
    "slowest-calls": SLOWEST_CALLS,
    "errors-by-type": ERRORS_BY_TYPE,
    "cache-misses-on-long-prompts": CACHE_MISSES_ON_LONG_PROMPTS,
}


class SavedQueries(Construct):
    """One `QueryDefinition` per query, named `claude-kit/<env>/<query>` (a folder per environment)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        log_groups: Sequence[logs.ILogGroup],
    ) -> None:
        super().__init__(scope, construct_id)
        self.queries = [
            logs.QueryDefinition(
                self,
                name,
                query_definition_name=f"claude-kit/{env_name}/{name}",
                query_string=query,
                log_groups=list(log_groups),
            )
            for name, query in QUERIES.items()
        ]
