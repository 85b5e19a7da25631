"""Alarms on how Claude calls behave: errors, latency, time to first token, throttling, fallbacks, batches.

All read the {Environment} aggregate of the runtime core's metrics. See docs/alarms.md for each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from constructs import Construct

from claude_kit.contract import Metric
from infra.config import AlertsConfig
from infra.constructs.claude_metrics import FIVE_MINUTES, alarm_above, claude_metric


class ServiceAlarms(Construct):
    """`alarms` lists every alarm created here, for the dashboard's alarm status widget."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        alerts: AlertsConfig,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        alarm = partial(alarm_above, self, env_name=env_name, topic=topic)
        metric = partial(claude_metric, env_name=env_name)

        self.error_rate = alarm(
            "ErrorRate",
            slug="error-rate",
            description=(
                f"More than {alerts.error_rate_percent} % of Claude calls failed for 15 minutes "
                "(alerts.error_rate_percent). The errors-by-type query says which errors."
            ),
            # FILL: a period with calls but no failures has no Errors datapoint, and that means 0 %.
            metric=cloudwatch.MathExpression(
                expression="100 * FILL(errors, 0) / calls",
                using_metrics={"errors": metric(Metric.ERRORS), "calls": metric(Metric.CALLS)},
                label="Claude error rate (%)",
                period=FIVE_MINUTES,
            ),
            threshold=alerts.error_rate_percent,
            evaluation_periods=3,
        )
        self.latency_p99 = alarm(
            "LatencyP99",
            slug="latency-p99",
            description=(
                f"p99 of Claude call latency is above {alerts.latency_p99_ms} ms in 2 of the last 3 "
                "5-minute periods (alerts.latency_p99_ms)."
            ),
            metric=metric(Metric.LATENCY_MS, statistic="p99"),
            threshold=alerts.latency_p99_ms,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
        self.ttft_p95 = alarm(
            "TimeToFirstTokenP95",
            slug="ttft-p95",
            description=(
                f"p95 of streaming time to first token is above {alerts.ttft_p95_ms} ms in 2 of the last 3 "
                "5-minute periods (alerts.ttft_p95_ms): users wait before they see anything."
            ),
            metric=metric(Metric.TTFT_MS, statistic="p95"),
            threshold=alerts.ttft_p95_ms,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
        self.throttles = alarm(
            "Throttles",
            slug="throttles",
            description=(
                f"Claude answered 429 (rate limited) more than {alerts.throttles_per_5_minutes} times in 5 "
                "minutes, retried ones included (alerts.throttles_per_5_minutes): the organisation's rate "
                "limits are too low for the traffic."
            ),
            metric=metric(Metric.THROTTLES),
            threshold=alerts.throttles_per_5_minutes,
        )
        self.fallbacks = alarm(
            "Fallbacks",
            slug="fallbacks",
            description=(
                f"More than {alerts.fallbacks_per_5_minutes} calls in 5 minutes were answered by the "
                "fallback model (alerts.fallbacks_per_5_minutes): the primary model is overloaded or failing."
            ),
            metric=metric(Metric.FALLBACKS),
            threshold=alerts.fallbacks_per_5_minutes,
        )
        self.batch_items_expired = alarm(
            "BatchItemsExpired",
            slug="batch-items-expired",
            description=(
                "Message Batches requests expired (not processed within 24 hours): those work items have no "
                "answer and need resubmitting."
            ),
            metric=metric(Metric.BATCH_ITEMS_EXPIRED),
            threshold=0,
        )

        self.alarms: Sequence[cloudwatch.Alarm] = (
            self.error_rate,
            self.latency_p99,
            self.ttft_p95,
            self.throttles,
            self.fallbacks,
            self.batch_items_expired,
        )
