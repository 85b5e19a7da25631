"""Batch queues: per `batch.queues[]` entry a queue, its DLQ and a consumer; shared by all of them the
jobs table, the results bucket and the poller on an EventBridge Scheduler schedule. See docs/batch.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from claude_kit import contract
from claude_kit.contract import Env
from infra.config import EnvironmentConfig, QueueConfig
from infra.constructs.api_key_secret import ApiKeySecret
from infra.lambda_function import kit_python_function
from infra.nag import acknowledge
from infra.retention import removal_policy
from infra.tables import kit_table

#: SQS keeps a message 14 days at most: long enough to wait out a paused consumer or a redrive.
RETENTION = Duration.days(14)
#: AWS's guidance for SQS event sources: the visibility timeout is at least 6 x the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
POLLER_TIMEOUT = Duration.minutes(15)


@dataclass(frozen=True)
class QueueSet:
    """One configured queue: what the observability construct alarms on and the spend guard pauses."""

    config: QueueConfig
    queue: sqs.Queue
    dead_letter_queue: sqs.Queue
    consumer: lambda_.Function
    event_source: event_sources.SqsEventSource
    #: The mapping the spend guard disables; `event_source_mapping_id` is its UUID (a token at synth time).
    event_source_mapping: lambda_.EventSourceMapping
    dead_letter_depth: cloudwatch.Metric
    oldest_message_age: cloudwatch.Metric

    @property
    def event_source_mapping_id(self) -> str:
        return self.event_source.event_source_mapping_id

    @property
    def cfn_event_source_mapping(self) -> lambda_.CfnEventSourceMapping:
        child = self.event_source_mapping.node.default_child
        assert isinstance(child, lambda_.CfnEventSourceMapping)
        return child


class BatchQueues(Construct):
    """`queues` (name → QueueSet), `table`, `bucket`, `poller`, `schedule`; the consumers and the poller may
    read the API key and touch only this construct's table, bucket and their own queue."""

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
        batch = config.batch
        self.table = self._jobs_table(env_name, config)
        self.bucket = self._results_bucket(config)
        shared_environment = {
            **claude_environment,
            Env.JOBS_TABLE: self.table.table_name,
            Env.RESULTS_BUCKET: self.bucket.bucket_name,
            Env.RESULTS_EXPIRE_DAYS: str(batch.results_expire_days),
        }

        self.queues: dict[str, QueueSet] = {}
        for queue_config in batch.queues:
            queue_set = self._queue_set(env_name, config, queue_config, shared_environment)
            api_key_secret.grant_read(queue_set.consumer)
            # Claims, state changes and batch records; GetItem for the old item a failed claim returns.
            self._grant_table(queue_set.consumer, "PutItem", "UpdateItem", "BatchWriteItem", "GetItem")
            self._grant_writes(queue_set.consumer, contract.RESULTS_PREFIX, contract.REJECTIONS_PREFIX)
            self.queues[queue_config.name] = queue_set

        self.poller = kit_python_function(
            self,
            "Poller",
            env_name=env_name,
            config=config,
            handler="batch_jobs.poller.handler",
            description="Batch poller: collects ended Message Batches, completes and announces jobs",
            memory_mb=1024,
            timeout=POLLER_TIMEOUT,
            environment={**shared_environment, Env.EVENT_BUS_NAME: "default"},
        )
        api_key_secret.grant_read(self.poller)
        self._grant_table(
            self.poller, "Query", "GetItem", "BatchGetItem", "BatchWriteItem", "UpdateItem", indexes=True
        )
        self._grant_writes(self.poller, contract.RESULTS_PREFIX)
        events.EventBus.from_event_bus_name(self, "DefaultBus", "default").grant_put_events_to(self.poller)
        # Only schedules of this account may assume the role (confused deputy): the trust policy of the
        # EventBridge Scheduler User Guide, "Set up the execution role" (UserGuide/setting-up.html).
        scheduler_role = iam.Role(
            self,
            "PollScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
        )
        # EventBridge Scheduler rather than a rule: its own retry policy, flexible windows if wanted later.
        self.schedule = scheduler.Schedule(
            self,
            "PollSchedule",
            description=f"claude-kit {env_name}: collect ended Message Batches",
            schedule=scheduler.ScheduleExpression.rate(Duration.minutes(batch.poll_interval_minutes)),
            target=scheduler_targets.LambdaInvoke(self.poller, retry_attempts=0, role=scheduler_role),
        )
        acknowledge(
            scheduler_role,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.poller)}.Arn>:*]",
            reason="The schedule's role may invoke only the poller; CDK's target grant covers its versions.",
        )

    @property
    def consumers(self) -> dict[str, lambda_.Function]:
        return {name: queue_set.consumer for name, queue_set in self.queues.items()}

    @property
    def event_source_mapping_ids(self) -> list[str]:
        return [queue_set.event_source_mapping_id for queue_set in self.queues.values()]

    def attach_jobs_reader(self, function: lambda_.Function) -> None:
        """For the chat API's `GET /jobs/{job_id}`: the table's name, read access to job and item records."""
        function.add_environment(Env.JOBS_TABLE, self.table.table_name)
        self._grant_table(function, "GetItem", "Query")

    def attach_open_batches_reader(self, function: lambda_.Function) -> None:
        """For the spend guard's batch cancelling: the table's name and queries of its open-records index."""
        function.add_environment(Env.JOBS_TABLE, self.table.table_name)
        self._grant_table(function, "Query", indexes=True)

    def _grant_table(self, function: lambda_.Function, *actions: str, indexes: bool = False) -> None:
        """Exactly these actions on this table (and, for queries, its two indexes), nothing wider."""
        arn = self.table.table_arn
        resources = [arn, *(f"{arn}/index/{index.name}" for index in contract.JOBS_TABLE.indexes)]
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[f"dynamodb:{action}" for action in actions],
                resources=resources if indexes else [arn],
            )
        )

    def _grant_writes(self, function: lambda_.Function, *prefixes: str) -> None:
        """PutObject (and aborting its multipart uploads) under the given prefixes of the results bucket."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[self.bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
            )
        )
        for prefix in prefixes:
            acknowledge(
                function.role or function,
                f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.bucket)}.Arn>/{prefix}*]",
                reason="Object keys are per job and item (docs/batch.md): writes stay under their prefix.",
            )

    @staticmethod
    def _logical_id(construct: Construct) -> str:
        child = construct.node.default_child
        assert isinstance(child, CfnElement)
        return Stack.of(construct).get_logical_id(child)

    def _queue_set(
        self,
        env_name: str,
        config: EnvironmentConfig,
        queue_config: QueueConfig,
        environment: Mapping[str, str],
    ) -> QueueSet:
        name = queue_config.name
        scope = Construct(self, f"Queue-{name}")
        timeout = Duration.seconds(queue_config.consumer_timeout_seconds)
        dead_letter_queue = sqs.Queue(
            scope,
            "DeadLetterQueue",
            queue_name=contract.dead_letter_queue_name(env_name, name),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            max_message_size_bytes=queue_config.max_message_bytes,
        )
        queue = sqs.Queue(
            scope,
            "Queue",
            queue_name=contract.queue_name(env_name, name),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            max_message_size_bytes=queue_config.max_message_bytes,
            visibility_timeout=Duration.seconds(
                queue_config.consumer_timeout_seconds * VISIBILITY_TIMEOUT_FACTOR
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=queue_config.max_receive_count, queue=dead_letter_queue
            ),
        )
        consumer = kit_python_function(
            scope,
            "Consumer",
            env_name=env_name,
            config=config,
            handler="batch_jobs.consumer.handler",
            description=f"Batch queue {name!r} consumer ({queue_config.mode} mode)",
            memory_mb=queue_config.consumer_memory_mb,
            timeout=timeout,
            environment={
                **environment,
                Env.QUEUE_NAME: name,
                Env.QUEUE_MODE: queue_config.mode,
                Env.MAX_MESSAGE_BYTES: str(queue_config.max_message_bytes),
            },
        )
        window = queue_config.max_batching_window_seconds
        event_source = event_sources.SqsEventSource(
            queue,
            batch_size=queue_config.batch_size,
            max_batching_window=Duration.seconds(window) if window else None,
            report_batch_item_failures=True,
            max_concurrency=queue_config.max_concurrency,
        )
        consumer.add_event_source(event_source)
        mapping = next(
            child for child in consumer.node.children if isinstance(child, lambda_.EventSourceMapping)
        )
        acknowledge(
            dead_letter_queue,
            "AwsSolutions-SQS3",
            reason="The dead-letter queue of the batch queue beside it: a DLQ of a DLQ would hide failures.",
        )
        return QueueSet(
            config=queue_config,
            queue=queue,
            dead_letter_queue=dead_letter_queue,
            consumer=consumer,
            event_source=event_source,
            event_source_mapping=mapping,
            dead_letter_depth=dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            oldest_message_age=queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ),
        )

    def _jobs_table(self, env_name: str, config: EnvironmentConfig) -> dynamodb.TableV2:
        """Keys and sparse indexes as functions/batch_jobs/store.py uses them (local/batch_queues.py too)."""
        # Recovery on everywhere (the default): the table is small, and losing job state would strand
        # paid-for results.
        return kit_table(
            self,
            "Jobs",
            config=config,
            table_name=contract.jobs_table_name(env_name),
            definition=contract.JOBS_TABLE,
        )

    def _results_bucket(self, config: EnvironmentConfig) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Results",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-results",
                    expiration=Duration.days(config.batch.results_expire_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy(config),
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            reason=(
                "Only the kit's consumers and poller write here, and they log every object they write; reads "
                "are the owner's. Enable CloudTrail S3 data events if you need an access trail of readers."
            ),
        )
        return bucket
