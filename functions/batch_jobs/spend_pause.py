"""A consumer invoked while the spend switch is closed leaves its records queued without burning receives.

Normally the spend guard disables the consumers' event source mappings, so nothing is received while closed.
The mapping can still be on (an operator edited the switch parameter, a disable failed, or records were in
flight): then SQS has already counted this delivery in each message's `ApproximateReceiveCount`, and handing
the records back (`batchItemFailures`, any visibility change) keeps that count, so a long closing would walk
every item to the DLQ. The count belongs to the message, not to its content, so the consumer parks a fresh
copy of each record (same body and attributes, `DelaySeconds` before it is seen again, zero receives) and
lets the mapping delete the original; a record it could not copy is reported as a failure (one receive
spent, never lost). It also asks the spend guard to finish the closing, which disables the mapping: from
then on nothing is received at all. A copy delivered twice (a crash after copying) is harmless: the jobs
table's claim skips a finished item.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from batch_jobs.enqueue import resolve_queue_url
from batch_jobs.settings import BatchSettings
from claude_kit.aws import aws_client
from claude_kit.contract import Metric
from claude_kit.observability import logger
from claude_kit.reservation import SpendGate
from claude_kit.spend_reasons import SPEND_REASONS
from claude_kit.spend_switch import SwitchState
from claude_kit.telemetry import record_count

#: SQS's limit on `DelaySeconds` and on entries per SendMessageBatch.
MAX_DELAY_SECONDS = 900
_SEND_BATCH = 10


def closed_switch(gate: SpendGate) -> SwitchState | None:
    """The switch's state if this function obeys one and it is closed (its cached reading)."""
    if gate.switch is None:
        return None
    state = gate.switch.state()
    return state if state.closed else None


def hold_records(
    event: Mapping[str, Any], settings: BatchSettings, state: SwitchState
) -> PartialItemFailureResponse:
    """Park every record of `event` as a delayed copy; the response fails only the ones not copied."""
    records: list[Mapping[str, Any]] = list(event.get("Records", []))
    sqs = aws_client("sqs")
    queue_url = resolve_queue_url(sqs, settings)
    failed: list[str] = []
    for start in range(0, len(records), _SEND_BATCH):
        chunk = records[start : start + _SEND_BATCH]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": record["body"],
                    "DelaySeconds": settings.paused_redelivery_delay_seconds,
                    "MessageAttributes": _attributes(record.get("messageAttributes") or {}),
                }
                for n, record in enumerate(chunk)
            ],
        )
        failed += [chunk[int(entry["Id"])]["messageId"] for entry in response.get("Failed", [])]
    record_count(Metric.BATCH_ITEMS_PARKED, len(records) - len(failed))
    logger.warning(
        "Spend switch closed: records parked in the queue without spending their receives",
        extra={"reason": state.reason, "parked": len(records) - len(failed), "not_parked": failed},
    )
    _finish_closing(settings, state)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Lambda event's message attributes back in SendMessage's shape."""
    copied: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        data_type = value.get("dataType") or value.get("DataType") or "String"
        if value.get("stringValue") is not None:
            copied[name] = {"DataType": data_type, "StringValue": value["stringValue"]}
        elif value.get("binaryValue") is not None:
            copied[name] = {"DataType": data_type, "BinaryValue": value["binaryValue"]}
    return copied


def _finish_closing(settings: BatchSettings, state: SwitchState) -> None:
    """Ask the guard (asynchronously, idempotently) to disable the mappings; best effort, the parking above
    already keeps the work safe."""
    if not settings.spend_guard_function:
        return
    command = {
        "action": "close",
        "cause": state.reason if state.reason in SPEND_REASONS else "operator",
        "reason": f"consumer of queue {settings.queue_name} found the switch closed with its mapping on",
        "requested_by": f"consumer:{settings.queue_name}",
    }
    try:
        aws_client("lambda").invoke(
            FunctionName=settings.spend_guard_function, InvocationType="Event", Payload=json.dumps(command)
        )
    except Exception:
        logger.exception("Could not ask the spend guard to pause the consumers")
