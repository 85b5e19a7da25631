"""Everything that watches one environment: Claude cost and service alarms, per-function Lambda alarms, queue
and dead-letter alarms, the dashboard and the saved Logs Insights queries. Every alarm notifies the topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    DefaultDashboardFactory,
    ErrorCountThreshold,
    MaxMessageAgeThreshold,
    MaxMessageCountThreshold,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)
from constructs import Construct

from infra.config import AlertsConfig
from infra.constructs.cost_alarms import CostAlarms
from infra.constructs.dashboard import ClaudeDashboard
from infra.constructs.log_queries import SavedQueries
from infra.constructs.service_alarms import ServiceAlarms


@dataclass(frozen=True)
class MonitoredQueue:
    """A work queue and the dead-letter queue its consumer gives up to."""

    name: str
    queue: sqs.IQueue
    dead_letter_queue: sqs.IQueue


@dataclass(frozen=True)
class MonitoredApi:
    api: apigateway.IRestApi
    stage_name: str


class Observability(Construct):
    """Service alarms; standard alarms and widgets for `functions`, `queues` and `api`; the dashboard (which
    also shows `cost_alarms` and `extra_alarms`); saved queries over the functions' logs. `alarms` lists every
    alarm shown."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        alerts: AlertsConfig,
        topic: sns.ITopic,
        cost_alarms: CostAlarms,
        functions: Mapping[str, lambda_.Function],
        queues: Sequence[MonitoredQueue] = (),
        api: MonitoredApi | None = None,
        extra_alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.service_alarms = ServiceAlarms(
            self, "ServiceAlarms", env_name=env_name, alerts=alerts, topic=topic
        )

        # Standard Lambda / SQS / API Gateway alarms and widgets; its own dashboards are off (ours is below).
        self.monitoring = MonitoringFacade(
            self,
            "Monitoring",
            alarm_factory_defaults=AlarmFactoryDefaults(
                alarm_name_prefix=f"claude-kit-{env_name}",
                actions_enabled=True,
                action=SnsAlarmActionStrategy(on_alarm_topic=topic, on_ok_topic=topic),
                datapoints_to_alarm=1,
                evaluation_periods=1,
            ),
            dashboard_factory=DefaultDashboardFactory(
                self,
                "StandardDashboards",
                dashboard_name_prefix=f"claude-kit-{env_name}",
                create_dashboard=False,
            ),
        )
        any_error = {"Critical": ErrorCountThreshold(max_error_count=0)}
        empty = cloudwatch.TreatMissingData.NOT_BREACHING
        for name, function in functions.items():
            self.monitoring.monitor_lambda_function(
                lambda_function=function,
                alarm_friendly_name=name,
                human_readable_name=f"Lambda {name}",
                add_fault_count_alarm=any_error,
                add_throttles_count_alarm=any_error,
            )
        for queue in queues:
            self.monitoring.monitor_sqs_queue_with_dlq(
                queue=queue.queue,
                dead_letter_queue=queue.dead_letter_queue,
                alarm_friendly_name=f"queue-{queue.name}",
                human_readable_name=f"Queue {queue.name}",
                # SQS stops reporting an idle, empty queue: no data means nothing waiting.
                add_queue_max_message_age_alarm={
                    "Warning": MaxMessageAgeThreshold(
                        max_age_in_seconds=alerts.oldest_message_age_seconds,
                        treat_missing_data_override=empty,
                    )
                },
                add_dead_letter_queue_max_size_alarm={
                    "Critical": MaxMessageCountThreshold(
                        max_message_count=0, treat_missing_data_override=empty
                    )
                },
            )
        if api is not None:
            self.monitoring.monitor_api_gateway(
                api=api.api,
                api_stage=api.stage_name,
                alarm_friendly_name="chat-api",
                human_readable_name="Chat API",
            )

        self.alarms: Sequence[cloudwatch.IAlarm] = (
            *cost_alarms.alarms,
            *extra_alarms,
            *self.service_alarms.alarms,
            *(created.alarm for created in self.monitoring.created_alarms()),
        )

        log_groups = [function.log_group for function in functions.values()]
        self.dashboard = ClaudeDashboard(
            self,
            "Dashboard",
            env_name=env_name,
            alarms=self.alarms,
            monitorings=self.monitoring.created_monitorings(),
            log_groups=log_groups,
            latency_p99_ms=alerts.latency_p99_ms,
            ttft_p95_ms=alerts.ttft_p95_ms,
        )
        self.queries = SavedQueries(self, "Queries", env_name=env_name, log_groups=log_groups)
