"""Batch queues as each environment of cdk.json synthesizes them: queue + DLQ + consumer per configured queue,
the jobs table, the results bucket, the poller's schedule, and grants no wider than the functions need."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from batch_jobs import store
from tests.infra.conftest import actions, resources, role_statements

pytestmark = pytest.mark.slow


def test_each_configured_queue_has_a_dead_letter_queue_after_max_receive_count(env):
    # Given the environment's configured queues
    for queue_config in env.config.batch.queues:
        queues = env.stack.batch.queues[queue_config.name]
        dlq_id = env.logical_id(queues.dead_letter_queue)

        # Then the queue redrives to its own DLQ after maxReceiveCount, and waits 6 consumer timeouts
        env.template.has_resource_properties(
            "AWS::SQS::Queue",
            {
                "QueueName": f"claude-kit-{env.stack.env_name}-{queue_config.name}",
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                    "maxReceiveCount": queue_config.max_receive_count,
                },
                "VisibilityTimeout": 6 * queue_config.consumer_timeout_seconds,
                "MaximumMessageSize": queue_config.max_message_bytes,
                "SqsManagedSseEnabled": True,
            },
        )
        env.template.has_resource_properties(
            "AWS::SQS::Queue",
            {
                "QueueName": f"claude-kit-{env.stack.env_name}-{queue_config.name}-dlq",
                "SqsManagedSseEnabled": True,
            },
        )


def test_every_queue_refuses_requests_without_tls(env):
    policies = resources(env.template, "AWS::SQS::QueuePolicy").values()
    queue_ids = {
        env.logical_id(construct)
        for queues in env.stack.batch.queues.values()
        for construct in (queues.queue, queues.dead_letter_queue)
    }
    protected = {
        queue["Ref"]
        for policy in policies
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for queue in policy["Queues"]
    }
    assert queue_ids <= protected


def test_consumers_report_partial_batch_failures_with_the_configured_batching(env):
    for queue_config in env.config.batch.queues:
        queues = env.stack.batch.queues[queue_config.name]
        window = queue_config.max_batching_window_seconds
        env.template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {
                "FunctionName": {"Ref": env.logical_id(queues.consumer)},
                "EventSourceArn": {"Fn::GetAtt": [env.logical_id(queues.queue), "Arn"]},
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "BatchSize": queue_config.batch_size,
                "MaximumBatchingWindowInSeconds": window if window else Match.absent(),
                "ScalingConfig": {"MaximumConcurrency": queue_config.max_concurrency},
            },
        )


def test_consumers_are_plain_python_handlers_told_their_queue_and_mode(env):
    for queue_config in env.config.batch.queues:
        consumer = resources(env.template, "AWS::Lambda::Function")[
            env.logical_id(env.stack.batch.queues[queue_config.name].consumer)
        ]
        variables = consumer["Environment"]["Variables"]

        assert consumer["Handler"] == "batch_jobs.consumer.handler"
        assert consumer["Timeout"] == queue_config.consumer_timeout_seconds
        assert "Layers" not in consumer  # no Lambda Web Adapter: SQS events go straight to the handler
        assert "AWS_LAMBDA_EXEC_WRAPPER" not in variables
        assert "AWS_LWA_PORT" not in variables
        assert variables["KIT_QUEUE_NAME"] == queue_config.name
        assert variables["KIT_QUEUE_MODE"] == queue_config.mode
        assert variables["KIT_JOBS_TABLE"] == {"Ref": env.logical_id(env.stack.batch.table)}
        assert variables["KIT_RESULTS_BUCKET"] == {"Ref": env.logical_id(env.stack.batch.bucket)}


def test_consumer_may_write_items_and_results_and_nothing_else_of_the_batch_store(env):
    table_arn = {"Fn::GetAtt": [env.logical_id(env.stack.batch.table), "Arn"]}
    bucket_arn = {"Fn::GetAtt": [env.logical_id(env.stack.batch.bucket), "Arn"]}
    for queues in env.stack.batch.queues.values():
        statements = role_statements(env.template, env.logical_id(queues.consumer.role))
        dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
        s3 = [s for s in statements if any(a.startswith("s3:") for a in actions(s))]

        assert [(sorted(actions(s)), s["Resource"]) for s in dynamodb] == [
            (
                ["dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                table_arn,
            )
        ]
        assert [sorted(actions(s)) for s in s3] == [["s3:AbortMultipartUpload", "s3:PutObject"]]
        assert sorted(map(str, s3[0]["Resource"])) == sorted(
            str({"Fn::Join": ["", [bucket_arn, f"/{prefix}/*"]]}) for prefix in ("results", "rejections")
        )


def test_poller_may_query_the_open_indexes_and_publish_on_the_default_bus(env):
    statements = role_statements(env.template, env.logical_id(env.stack.batch.poller.role))
    (query,) = [s for s in statements if "dynamodb:Query" in actions(s)]
    (put_events,) = [s for s in statements if "events:PutEvents" in actions(s)]

    table_arn = {"Fn::GetAtt": [env.logical_id(env.stack.batch.table), "Arn"]}
    expected = [
        table_arn,
        *({"Fn::Join": ["", [table_arn, f"/index/{name}"]]} for name in ("open-records", "open-items")),
    ]
    assert sorted(map(str, query["Resource"])) == sorted(map(str, expected))
    assert "default" in str(put_events["Resource"])


def test_poller_runs_on_the_configured_schedule(env):
    env.template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": f"rate({env.config.batch.poll_interval_minutes} minutes)",
            "Target": {
                "Arn": {"Fn::GetAtt": [env.logical_id(env.stack.batch.poller), "Arn"]},
                "RetryPolicy": {"MaximumRetryAttempts": 0},
            },
        },
    )


def test_jobs_table_is_on_demand_with_ttl_recovery_and_the_stores_indexes(env):
    env.template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "TableName": f"claude-kit-{env.stack.env_name}-jobs",
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "Replicas": [
                Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
            ],
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like({"IndexName": store.OPEN_RECORDS_INDEX}),
                    Match.object_like(
                        {"IndexName": store.OPEN_ITEMS_INDEX, "Projection": {"ProjectionType": "KEYS_ONLY"}}
                    ),
                ]
            ),
        },
    )


def test_results_bucket_is_private_encrypted_tls_only_and_expires_results(env):
    bucket_id = env.logical_id(env.stack.batch.bucket)
    bucket = resources(env.template, "AWS::S3::Bucket")[bucket_id]

    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == env.config.batch.results_expire_days
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    env.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


def test_spend_guard_may_pause_exactly_the_consumers_event_source_mappings(env):
    if env.stack.spend_guard is None:
        pytest.skip("spend guard disabled in this environment")
    guard = resources(env.template, "AWS::Lambda::Function")[env.logical_id(env.stack.spend_guard.function)]
    mapping_refs = [
        {"Ref": env.stack.get_logical_id(queues.cfn_event_source_mapping)}
        for queues in env.stack.batch.queues.values()
    ]

    assert all(
        str(ref) in str(guard["Environment"]["Variables"]["KIT_BATCH_CONSUMER_MAPPINGS"])
        for ref in mapping_refs
    )
    assert len(env.stack.batch.event_source_mapping_ids) == len(env.config.batch.queues)


def test_queue_metrics_for_alarms_are_exposed(env):
    for queues in env.stack.batch.queues.values():
        assert queues.dead_letter_depth.metric_name == "ApproximateNumberOfMessagesVisible"
        assert queues.oldest_message_age.metric_name == "ApproximateAgeOfOldestMessage"


def test_every_acknowledged_finding_of_the_batch_queues_has_a_reason(env, acknowledgements, nag_findings):
    found = [ack for ack in acknowledgements(env.stack.batch) if ack.rule.startswith("AwsSolutions")]

    assert {ack.rule.split("[")[0] for ack in found} >= {
        "AwsSolutions-S1",
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM5",
    }
    assert all(len(ack.reason) > 40 for ack in found)
    assert nag_findings(env.stack.batch) == []


def test_chat_api_may_read_jobs_for_its_jobs_route_and_nothing_more(env):
    chat = resources(env.template, "AWS::Lambda::Function")[env.logical_id(env.stack.chat.function)]
    table_arn = {"Fn::GetAtt": [env.logical_id(env.stack.batch.table), "Arn"]}
    statements = role_statements(env.template, env.logical_id(env.stack.chat.function.role))

    assert chat["Environment"]["Variables"]["KIT_JOBS_TABLE"] == {
        "Ref": env.logical_id(env.stack.batch.table)
    }
    assert [sorted(actions(s)) for s in statements if s["Resource"] == table_arn] == [
        ["dynamodb:GetItem", "dynamodb:Query"]
    ]
