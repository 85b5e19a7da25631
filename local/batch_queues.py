"""Batch queues in the local stack: what `infra/constructs/batch_queues.py` creates, made on moto, and the two
pieces of AWS plumbing that run the functions: an SQS event source (receive → consumer → delete, honouring
`batchItemFailures` like Lambda's event source mapping) and the poller's schedule.

Each consumer also gets a placeholder function and an event source mapping on moto, never invoked: the spend
guard disables and enables those mappings as it does on AWS, and the local event source receives only while
its mapping is enabled, so closing the switch pauses local consumers with the guard's own code. The mapping
reads an empty placeholder queue: moto would otherwise try to run the function (in Docker) on every message.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from claude_kit import contract
from claude_kit.contract import Env
from infra.config import QueueConfig
from local.context import LocalContext, create_table

#: Local-only: the queues the event sources serve, as the provisioner made them (JSON list of LocalQueue).
QUEUES_VARIABLE = "LOCAL_BATCH_QUEUES"
#: The spend switch parameter (local/guardrails.py sets it); the event sources pause while it is closed.
SWITCH_VARIABLE = Env.SPEND_SWITCH_PARAMETER


def consumer_function_name(env_name: str, queue: str) -> str:
    return f"claude-kit-{env_name}-{queue}-consumer"


@dataclass(frozen=True)
class LocalQueue:
    name: str
    mode: str
    url: str
    arn: str
    batch_size: int
    max_message_bytes: int
    #: The moto event source mapping the spend guard toggles; empty when made without one (tests, bench).
    mapping_uuid: str = ""


@dataclass(frozen=True)
class LocalLambdaContext:
    """Enough of Lambda's context object for Powertools and the functions' deadline checks."""

    function_name: str
    timeout_seconds: float = 900.0
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""
    invoked_function_arn: str = ""
    started: float = 0.0

    @classmethod
    def new(cls, function_name: str, timeout_seconds: float = 900.0) -> LocalLambdaContext:
        return cls(
            function_name=function_name,
            timeout_seconds=timeout_seconds,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}",
            started=time.monotonic(),
        )

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


def create_jobs_table(dynamodb: Any, name: str) -> None:
    create_table(dynamodb, name, contract.JOBS_TABLE)


def create_queues(sqs: Any, env_name: str, queue: QueueConfig, *, visibility_timeout: int) -> LocalQueue:
    """The queue and its DLQ, with the construct's redrive policy and message size."""
    dlq_url = sqs.create_queue(QueueName=contract.dead_letter_queue_name(env_name, queue.name))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
    url = sqs.create_queue(
        QueueName=contract.queue_name(env_name, queue.name),
        Attributes={
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(visibility_timeout),
            "MaximumMessageSize": str(queue.max_message_bytes),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return LocalQueue(queue.name, queue.mode, url, arn, queue.batch_size, queue.max_message_bytes)


def _placeholder_role(iam: Any, env_name: str) -> str:
    """moto checks that a function's role exists; it is never assumed."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(
        RoleName=f"claude-kit-{env_name}-consumers", AssumeRolePolicyDocument=json.dumps(trust)
    )
    return str(role["Role"]["Arn"])


def create_event_source_mapping(
    lambda_client: Any, sqs: Any, role_arn: str, env_name: str, queue: LocalQueue
) -> str:
    """A never-invoked function and its mapping (on an always-empty queue): the switch the guard flips."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr(
            "placeholder.py", "def handler(event, context):\n    raise RuntimeError('local only')\n"
        )
    name = consumer_function_name(env_name, queue.name)
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler="placeholder.handler",
        Code={"ZipFile": code.getvalue()},
        Description="Placeholder: the local stack runs batch_jobs.consumer in-process",
    )
    placeholder_url = sqs.create_queue(QueueName=f"{name}-switch")["QueueUrl"]
    placeholder_arn = sqs.get_queue_attributes(QueueUrl=placeholder_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=placeholder_arn, FunctionName=name, BatchSize=queue.batch_size
    )
    return str(mapping["UUID"])


def provision(
    client: Callable[[str], Any],
    env_name: str,
    queues: Sequence[QueueConfig],
    *,
    results_expire_days: int = 90,
    visibility_timeout: int = 30,
    with_mappings: bool = True,
) -> dict[str, str]:
    """Create everything on the AWS `client` reaches; returns the environment the functions would get."""
    bucket = f"claude-kit-{env_name}-results"
    client("s3").create_bucket(Bucket=bucket)
    create_jobs_table(client("dynamodb"), contract.jobs_table_name(env_name))
    made = [
        create_queues(client("sqs"), env_name, queue, visibility_timeout=visibility_timeout)
        for queue in queues
    ]
    if with_mappings:
        role_arn = _placeholder_role(client("iam"), env_name)
        made = [
            replace(
                queue,
                mapping_uuid=create_event_source_mapping(
                    client("lambda"), client("sqs"), role_arn, env_name, queue
                ),
            )
            for queue in made
        ]
    return {
        Env.JOBS_TABLE: contract.jobs_table_name(env_name),
        Env.RESULTS_BUCKET: bucket,
        Env.RESULTS_EXPIRE_DAYS: str(results_expire_days),
        QUEUES_VARIABLE: json.dumps([queue.__dict__ for queue in made]),
    }


def provision_batch_queues(context: LocalContext) -> Mapping[str, str]:
    """The local stack's provisioning step for batch queues."""
    batch = context.config.batch
    return provision(
        context.client, context.env_name, batch.queues, results_expire_days=batch.results_expire_days
    )


def sqs_event(messages: Sequence[Mapping[str, Any]], queue: LocalQueue, region: str) -> dict[str, Any]:
    """What Lambda's event source mapping hands the consumer for messages from `ReceiveMessage`."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


Consumer = Callable[[dict[str, Any], LocalLambdaContext], Mapping[str, Any]]


def consume(queue: LocalQueue, event: dict[str, Any], context: LocalLambdaContext) -> Mapping[str, Any]:
    """One consumer invocation for `queue`: its function's settings, as the stack sets them per queue."""
    from batch_jobs import consumer
    from batch_jobs.settings import BatchSettings

    settings = BatchSettings(queue_name=queue.name, queue_mode=queue.mode, queue_url=queue.url)
    return consumer.consume(event, context, settings)  # type: ignore[arg-type]


def run_poller() -> None:
    """One scheduled poller invocation."""
    from batch_jobs import poller

    poller.handler({}, LocalLambdaContext.new("claude-kit-local-poller"))


@dataclass
class Delivery:
    received: int = 0
    failed: int = 0


class SqsEventSource:
    """Lambda's SQS event source mapping, one batch at a time: records the consumer reports as failed (or
    all of them, if it raises) become visible again after `redeliver_after_seconds`; the rest are deleted.

    While its mapping is disabled (the spend guard disables the consumers' mappings) or `disabled()` says so
    (the spend switch is closed) it receives nothing: queued messages keep their receive counts."""

    def __init__(
        self,
        sqs: Any,
        queue: LocalQueue,
        consumer: Consumer,
        *,
        region: str = "us-east-1",
        redeliver_after_seconds: int = 0,
        timeout_seconds: float = 120.0,
        lambda_client: Any = None,
        disabled: Callable[[], bool] = lambda: False,
    ) -> None:
        self._sqs = sqs
        self._lambda = lambda_client
        self._disabled = disabled
        self.queue = queue
        self._consumer = consumer
        self._region = region
        self._redeliver_after = redeliver_after_seconds
        self._timeout_seconds = timeout_seconds

    @property
    def enabled(self) -> bool:
        """As Lambda does, a disabled mapping (the spend guard closed) receives nothing: work waits in SQS."""
        if self._lambda is None or not self.queue.mapping_uuid:
            return True
        state = self._lambda.get_event_source_mapping(UUID=self.queue.mapping_uuid)["State"]
        return state not in ("Disabled", "Disabling")

    def deliver(self, wait_seconds: int = 0) -> Delivery:
        if not self.enabled or self._disabled():
            time.sleep(wait_seconds)
            return Delivery()
        messages = self._receive(wait_seconds)
        if not messages:
            return Delivery()
        context = LocalLambdaContext.new(
            f"claude-kit-local-{self.queue.name}-consumer", self._timeout_seconds
        )
        try:
            response = self._consumer(sqs_event(messages, self.queue, self._region), context)
            failed = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
        except Exception:  # an invocation error: Lambda retries the whole batch
            failed = {message["MessageId"] for message in messages}
        done = [message for message in messages if message["MessageId"] not in failed]
        retry = [message for message in messages if message["MessageId"] in failed]
        for index in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(done[index:][:10])
                ],
            )
        for index in range(0, len(retry), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue.url,
                Entries=[
                    {
                        "Id": str(n),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self._redeliver_after,
                    }
                    for n, m in enumerate(retry[index:][:10])
                ],
            )
        return Delivery(received=len(messages), failed=len(retry))

    def drain(self, max_deliveries: int = 10_000) -> Delivery:
        """Deliver until the queue gives nothing more (failed records come back while it is not empty)."""
        total = Delivery()
        for _ in range(max_deliveries):
            delivery = self.deliver()
            if not delivery.received:
                return total
            total.received += delivery.received
            total.failed += delivery.failed
        return total

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        """Up to `batch_size` messages, 10 per ReceiveMessage call as SQS allows."""
        messages: list[dict[str, Any]] = []
        while len(messages) < self.queue.batch_size:
            response = self._sqs.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=min(10, self.queue.batch_size - len(messages)),
                WaitTimeSeconds=wait_seconds if not messages else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            if not received:
                break
            messages.extend(received)
        return messages


class _Repeating:
    """Run `step` in a daemon thread until stopped, only while the stack's environment is in os.environ (a
    test applies it per test): the functions read their settings there, and without it they would look for
    real AWS. A failing step is reported and tried again next round."""

    def __init__(
        self, name: str, step: Callable[[], object], interval_seconds: float, env: Mapping[str, str]
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval_seconds
        self._env = dict(env)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if all(os.environ.get(name) == value for name, value in self._env.items()):
                try:
                    self._step()
                except Exception as exc:
                    print(f"{self.name}: {type(exc).__name__}: {exc}")
            self._stopping.wait(self._interval or 0.1)


class BatchQueueServices:
    """Event sources for every provisioned queue plus the poller on a timer, as one local service.

    The event sources stop receiving while the spend switch is closed, as the spend guard disables the
    mappings in AWS; a test sets `pause_with_switch = False` to play a mapping left on (the consumer then
    parks what it receives: batch_jobs/spend_pause.py).
    """

    name = "batch queues"

    def __init__(self, *, poll_interval_seconds: float = 2.0, receive_wait_seconds: int = 1) -> None:
        self._poll_interval = poll_interval_seconds
        self._receive_wait = receive_wait_seconds
        self._loops: list[_Repeating] = []
        self.pause_with_switch = True

    def start(self, env: Mapping[str, str]) -> str | None:
        sqs = _client("sqs", env)
        lambda_client = _client("lambda", env)
        paused = partial(self._switch_closed, ssm=_client("ssm", env), name=env.get(SWITCH_VARIABLE))
        for queue in (LocalQueue(**spec) for spec in json.loads(env[QUEUES_VARIABLE])):
            source = SqsEventSource(
                sqs,
                queue,
                partial(consume, queue),
                region=env["AWS_REGION"],
                lambda_client=lambda_client,
                disabled=paused,
            )
            deliver = partial(source.deliver, self._receive_wait)
            self._loops.append(_Repeating(f"sqs:{queue.name}", deliver, 0, env))
        self._loops.append(_Repeating("poller", run_poller, self._poll_interval, env))
        for loop in self._loops:
            loop.start()
        return None

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop()
        self._loops.clear()

    def _switch_closed(self, *, ssm: Any, name: str | None) -> bool:
        if not self.pause_with_switch or name is None:
            return False
        from claude_kit.spend_switch import SwitchState

        return SwitchState.parse(ssm.get_parameter(Name=name)["Parameter"]["Value"]).closed


def _client(service: str, env: Mapping[str, str]) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
