"""The kit's own Claude cost estimate over a window: the sum of its `CostUSD` metric under {Environment}.

CloudWatch alarms cannot look back more than 7 days (period × evaluation periods), so the month's figure is
read here with GetMetricData in hourly sums (kept 455 days) and published as a metric of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from claude_kit import contract
from claude_kit.observability import metrics_namespace

_HOUR = 3600


class CostMetric:
    def __init__(self, cloudwatch: Any, *, env_name: str) -> None:
        self._cloudwatch = cloudwatch
        self._env_name = env_name

    def usd_between(self, start: datetime, end: datetime) -> float:
        query = {
            "Id": "cost",
            "MetricStat": {
                "Metric": {
                    "Namespace": metrics_namespace(),
                    "MetricName": contract.Metric.COST_USD,
                    "Dimensions": [{"Name": contract.ENVIRONMENT_DIMENSION, "Value": self._env_name}],
                },
                "Period": _HOUR,
                "Stat": "Sum",
            },
        }
        total = 0.0
        token: str | None = None
        while True:
            page = self._cloudwatch.get_metric_data(
                MetricDataQueries=[query],
                StartTime=start,
                EndTime=end,
                **({"NextToken": token} if token else {}),
            )
            total += sum(sum(result.get("Values", [])) for result in page["MetricDataResults"])
            token = page.get("NextToken")
            if not token:
                return total
