"""The environment's CloudWatch dashboard: alarm states, the Claude-specific widgets, then the standard ones.

Only what is specific to Claude is built here (cost, tokens, cache, latency, errors by type, rate-limit
headroom, guards, batches); Lambda, SQS and API Gateway widgets come from cdk-monitoring-constructs' segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from cdk_monitoring_constructs import Monitoring
from constructs import Construct

from claude_kit import contract
from claude_kit.contract import Metric
from infra.constructs.claude_metrics import FIVE_MINUTES, claude_metric, per_model_and_route
from infra.constructs.cost_alarms import BILLING_REGION
from infra.constructs.log_queries import ERRORS_BY_TYPE

_FULL, _HALF, _THIRD, _QUARTER = 24, 12, 8, 6
_HEIGHT = 6


class ClaudeDashboard(Construct):
    """`dashboard` is named `claude-kit-<env>`; widget titles are what tests and people look for."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        alarms: Sequence[cloudwatch.IAlarm],
        monitorings: Sequence[Monitoring],
        log_groups: Sequence[logs.ILogGroup],
        latency_p99_ms: float,
        ttft_p95_ms: float,
    ) -> None:
        super().__init__(scope, construct_id)
        metric = partial(claude_metric, env_name=env_name)

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=contract.dashboard_name(env_name),
            default_interval=Duration.days(1),
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"# Claude — {env_name}\n"
                    "Alarms and their thresholds: `docs/alarms.md`. Spend guard: "
                    f"`bin/kit spend-guard status --env {env_name}` / `reopen --env {env_name}`."
                ),
                width=_FULL,
                height=2,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=list(alarms),
                sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                width=_FULL,
                height=4,
            )
        )

        # Cost
        self.dashboard.add_widgets(
            cloudwatch.SingleValueWidget(
                title="Claude cost, last 24 h (USD)",
                metrics=[metric(Metric.COST_USD, period=Duration.days(1), label="USD")],
                width=_QUARTER,
                height=_HEIGHT,
            ),
            cloudwatch.SingleValueWidget(
                title="AWS charges this month (USD, all services)",
                metrics=[
                    cloudwatch.Metric(
                        namespace="AWS/Billing",
                        metric_name="EstimatedCharges",
                        dimensions_map={"Currency": "USD"},
                        statistic="Maximum",
                        period=Duration.hours(6),
                        region=BILLING_REGION,
                        label="USD",
                    )
                ],
                width=_QUARTER,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Claude cost per hour by model and route (USD)",
                left=[
                    per_model_and_route(
                        Metric.COST_USD, env_name=env_name, statistic="Sum", period=Duration.hours(1)
                    )
                ],
                stacked=True,
                width=_HALF,
                height=_HEIGHT,
            ),
        )

        # Tokens and cache
        input_tokens = metric(Metric.INPUT_TOKENS, label="input (uncached)")
        cache_write = metric(Metric.CACHE_CREATION_INPUT_TOKENS, label="cache write")
        cache_read = metric(Metric.CACHE_READ_INPUT_TOKENS, label="cache read")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Tokens in and out",
                left=[input_tokens, cache_write, cache_read, metric(Metric.OUTPUT_TOKENS, label="output")],
                width=_HALF,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Prompt cache hit ratio (%)",
                left=[
                    cloudwatch.MathExpression(
                        expression="100 * cache_read / (input + cache_write + cache_read)",
                        using_metrics={
                            "input": input_tokens,
                            "cache_write": cache_write,
                            "cache_read": cache_read,
                        },
                        label="prompt tokens read from the cache (%)",
                        period=FIVE_MINUTES,
                    )
                ],
                left_y_axis=cloudwatch.YAxisProps(min=0, max=100, show_units=False),
                width=_HALF,
                height=_HEIGHT,
            ),
        )

        # Latency
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Claude call latency (ms)",
                left=[
                    metric(Metric.LATENCY_MS, statistic=stat, label=stat) for stat in ("p50", "p95", "p99")
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=latency_p99_ms, label="p99 alarm")],
                width=_HALF,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Time to first token (ms)",
                left=[metric(Metric.TTFT_MS, statistic=stat, label=stat) for stat in ("p50", "p95", "p99")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=ttft_p95_ms, label="p95 alarm")],
                width=_HALF,
                height=_HEIGHT,
            ),
        )

        # Errors, retries, fallbacks
        calls = metric(Metric.CALLS, label="calls")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Calls and error rate",
                left=[calls],
                right=[
                    cloudwatch.MathExpression(
                        expression="100 * FILL(errors, 0) / calls",
                        using_metrics={"errors": metric(Metric.ERRORS), "calls": calls},
                        label="error rate (%)",
                        period=FIVE_MINUTES,
                    )
                ],
                width=_THIRD,
                height=_HEIGHT,
            ),
            cloudwatch.LogQueryWidget(
                title="Errors by type",
                log_group_names=[group.log_group_name for group in log_groups],
                query_string=ERRORS_BY_TYPE.to_string(),
                view=cloudwatch.LogQueryVisualizationType.TABLE,
                width=_THIRD,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Retries, fallbacks and 429s",
                left=[
                    metric(Metric.RETRIES, label="retries"),
                    metric(Metric.FALLBACKS, label="fallbacks"),
                    metric(Metric.THROTTLES, label="429 responses"),
                ],
                width=_THIRD,
                height=_HEIGHT,
            ),
        )

        # Rate-limit headroom and guards
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Rate-limit headroom (lowest remaining)",
                left=[
                    metric(
                        Metric.RATE_LIMIT_REQUESTS_REMAINING, statistic="Minimum", label="requests remaining"
                    )
                ],
                right=[
                    metric(Metric.RATE_LIMIT_TOKENS_REMAINING, statistic="Minimum", label="tokens remaining")
                ],
                width=_HALF,
                height=_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="Calls refused by the spend guard and user quotas",
                left=[
                    metric(Metric.SPEND_GUARD_REJECTIONS, label="spend guard closed"),
                    metric(Metric.QUOTA_REJECTIONS, label="user over quota"),
                ],
                width=_HALF,
                height=_HEIGHT,
            ),
        )

        # Batches
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Batch items",
                left=[
                    metric(f"BatchItems{outcome}", label=outcome.lower())
                    for outcome in ("Submitted", "Succeeded", "Errored", "Expired", "Rejected")
                ],
                width=_FULL,
                height=_HEIGHT,
            )
        )

        # Lambda, SQS (backlog, dead letters) and API Gateway, from cdk-monitoring-constructs.
        for monitoring in monitorings:
            self.dashboard.add_widgets(*monitoring.widgets())
