"""The runtime core's per-call CloudWatch metrics, as the alarms and the dashboard read them.

`claude_kit.telemetry` emits every metric twice: with {Environment, Model, Route} for breakdowns and with
{Environment} alone for alarms. Alarms here always use the {Environment} aggregate.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from claude_kit import contract

FIVE_MINUTES = Duration.minutes(5)


def claude_metric(
    name: str,
    *,
    env_name: str,
    statistic: str = "Sum",
    period: Duration = FIVE_MINUTES,
    label: str | None = None,
) -> cloudwatch.Metric:
    """One metric's environment-wide aggregate."""
    return cloudwatch.Metric(
        namespace=contract.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={contract.ENVIRONMENT_DIMENSION: env_name},
        statistic=statistic,
        period=period,
        label=label,
    )


def per_model_and_route(
    name: str, *, env_name: str, statistic: str, period: Duration
) -> cloudwatch.MathExpression:
    """Every {Model, Route} series of one metric, found when shown (dashboards only: alarms refuse SEARCH)."""
    namespace, environment = contract.METRICS_NAMESPACE, contract.ENVIRONMENT_DIMENSION
    dimensions = f"{environment},{contract.MODEL_DIMENSION},{contract.ROUTE_DIMENSION}"
    search = (
        f'SEARCH(\'{{{namespace},{dimensions}}} MetricName="{name}" {environment}="{env_name}"\', '
        f"'{statistic}', {int(period.to_seconds())})"
    )
    return cloudwatch.MathExpression(expression=search, label="", period=period)


def alarm_above(
    scope: Construct,
    construct_id: str,
    *,
    env_name: str,
    slug: str,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    topic: sns.ITopic,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int | None = None,
) -> cloudwatch.Alarm:
    """An alarm on `metric > threshold` that tells the topic when it fires and when it recovers.

    Missing data is "not breaching": every metric here is a count, a cost or a per-call statistic, and no
    calls means nothing is going wrong.
    """
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=contract.alarm_name(env_name, slug),
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    action = actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
    return alarm
