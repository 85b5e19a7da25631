"""SQS consumer Lambda (`batch_jobs.consumer.handler`): one per queue, in the queue's mode.

Powertools' BatchProcessor reports each failed record as a batch item failure (`ReportBatchItemFailures` is on
the event source), so only those are redelivered. Batch mode stages every record first, then submits the
staged items as Message Batches and adds the records of a failed submission to the same response. Before
staging, batch mode claims the invocation's items together and reads the spend switch once (see
`JobStore.claim_many` for why a batched claim keeps redeliveries harmless).
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from batch_jobs import clients, spend_pause
from batch_jobs.enqueue import JOB_ITEMS_ATTRIBUTE
from batch_jobs.intake import InboundMessage, Intake
from batch_jobs.settings import BatchSettings, get_batch_settings, item_limits
from batch_jobs.submission import BatchSubmission, RealtimeRun
from claude_kit.observability import logger, tracer
from claude_kit.settings import get_settings

#: A claim outlives the invocation by this much, so no other consumer takes an item this one still works on.
LEASE_MARGIN_SECONDS = 60


def inbound(record: SQSRecord) -> InboundMessage:
    expected = record.message_attributes[JOB_ITEMS_ATTRIBUTE]  # None when absent (Powertools' mapping)
    expected_items, problem = job_items(expected.string_value if expected else None)
    return InboundMessage(
        message_id=record.message_id,
        body=record.body,
        receive_count=int(record.attributes.approximate_receive_count),
        expected_items=expected_items,
        attribute_problem=problem,
    )


def job_items(value: str | None) -> tuple[int | None, str | None]:
    """The `job_items` attribute as a count, or what is wrong with it: a raw sender may put anything there,
    and a value that can never parse must be a rejection, not a failure on every delivery until the DLQ."""
    if not value:
        return None, None
    try:
        count = int(value)
    except ValueError:
        return None, f"{JOB_ITEMS_ATTRIBUTE} must be a whole number of items, got {value[:40]!r}"
    if count < 1:
        return None, f"{JOB_ITEMS_ATTRIBUTE} must be at least 1, got {count}"
    return count, None


def _readable(event: dict[str, Any]) -> list[InboundMessage]:
    """The records `inbound` can read; any other fails alone when the processor reaches it."""
    messages = []
    for record in event.get("Records", []):
        try:
            messages.append(inbound(SQSRecord(record)))
        except (KeyError, TypeError, ValueError):
            continue
    return messages


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, get_batch_settings())


def consume(
    event: dict[str, Any], context: LambdaContext, settings: BatchSettings
) -> PartialItemFailureResponse:
    """The handler's work for the queue `settings` names (the local stack runs one per queue, in-process)."""
    if (closed := spend_pause.closed_switch(clients.get_gate())) is not None:
        return spend_pause.hold_records(event, settings, closed)  # queued work waits, receives unspent
    remaining_ms = context.get_remaining_time_in_millis
    # One processor per invocation: it holds the invocation's failures, and the local stack runs one consumer
    # per queue in threads of one process. It logs through the stdlib logger behind the kit's Logger.
    processor = BatchProcessor(event_type=EventType.SQS, logger=logging.getLogger(logger.name))
    jobs, results = clients.get_job_store(), clients.get_result_store()
    intake = Intake(
        queue=settings.queue_name,
        mode=settings.queue_mode,
        limits=item_limits(get_settings(), settings),
        jobs=jobs,
        results=results,
        lease_seconds=remaining_ms() / 1000 + LEASE_MARGIN_SECONDS,
    )
    if settings.queue_mode == "realtime":
        run = RealtimeRun(
            intake,
            clients.get_service(),
            jobs,
            results,
            remaining_ms=remaining_ms,
            min_remaining_seconds=settings.realtime_min_remaining_seconds,
        )
        return process_partial_response(
            event, lambda record: run.process(inbound(record)), processor, context
        )

    batches = clients.message_batches(remaining_seconds=lambda: remaining_ms() / 1000)
    submission = BatchSubmission(intake, batches, jobs, clients.get_gate())
    submission.prepare(_readable(event))
    response = process_partial_response(
        event, lambda record: submission.stage(inbound(record)), processor, context
    )
    response["batchItemFailures"].extend({"itemIdentifier": message_id} for message_id in submission.submit())
    return response
