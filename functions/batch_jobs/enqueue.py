"""Putting work on a batch queue: validate a JSONL file line by line, then send it 10 messages per SQS call.

Invalid lines are reported with their line numbers and never sent. Entries SQS refuses for a transient reason
are sent again with backoff; a crash halfway is safe to repeat with the same job id, because the consumer
skips items it has already taken (same job_id + custom_id).
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from more_itertools import constrained_batches
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential_jitter

from batch_jobs.schema import InvalidWorkItemError, ItemLimits, WorkItem, parse_work_item
from batch_jobs.settings import ATTRIBUTE_ALLOWANCE_BYTES, BatchSettings
from batch_jobs.store import ItemState, JobStore
from claude_kit import contract

#: SendMessageBatch takes at most 10 entries per call.
SQS_BATCH_ENTRIES = 10
#: Message attribute telling the consumer how many items the job has, so the poller knows when it is complete.
JOB_ITEMS_ATTRIBUTE = contract.JOB_ITEMS_ATTRIBUTE


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message; `ref` (a line number, or a custom_id on requeue) names it in reports and SQS entries."""

    ref: str
    body: str


@dataclass(frozen=True, slots=True)
class SendFailure:
    ref: str
    reason: str


@dataclass(slots=True)
class EnqueueReport:
    job_id: str
    queue_url: str
    lines: int = 0
    sent: int = 0
    invalid: list[LineError] = field(default_factory=list)
    failed: list[SendFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.invalid and not self.failed


def new_job_id(clock: Callable[[], float] = time.time) -> str:
    """Sortable and unique enough for humans: job-20261125-143000-1a2b3c."""
    stamp = datetime.fromtimestamp(clock(), UTC).strftime("%Y%m%d-%H%M%S")
    return f"job-{stamp}-{secrets.token_hex(3)}"


def resolve_queue_url(sqs: Any, settings: BatchSettings, queue: str | None = None) -> str:
    """`KIT_QUEUE_URL` when set (and no other queue is asked for), else the stack's queue name for the env."""
    if settings.queue_url and (queue is None or queue == settings.queue_name):
        return settings.queue_url
    return str(sqs.get_queue_url(QueueName=settings.sqs_queue_name(queue))["QueueUrl"])


def validate_lines(
    lines: Iterable[str], *, job_id: str, limits: ItemLimits
) -> tuple[list[Outgoing], list[LineError], int]:
    """Valid items (with the job id filled in), invalid lines, and how many non-blank lines there were."""
    valid: list[Outgoing] = []
    invalid: list[LineError] = []
    seen: dict[str, int] = {}
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        count += 1
        try:
            item = parse_work_item(line, limits)
        except InvalidWorkItemError as exc:
            invalid.append(LineError(number, exc.reason, tuple(exc.errors)))
            continue
        if item.job_id not in (None, job_id):
            invalid.append(
                LineError(number, f"job_id {item.job_id!r} differs from this run's job id {job_id!r}")
            )
        elif item.custom_id in seen:
            invalid.append(
                LineError(number, f"custom_id {item.custom_id!r} already used on line {seen[item.custom_id]}")
            )
        else:
            seen[item.custom_id] = number
            valid.append(Outgoing(str(number), _with_job(item, job_id)))
    return valid, invalid, count


def _with_job(item: WorkItem, job_id: str) -> str:
    return item.model_copy(update={"job_id": job_id}).to_json()


class QueueSender:
    """SendMessageBatch with retries of the entries SQS failed for its own reasons (not the sender's)."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        max_message_bytes: int,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self._max_message_bytes = max_message_bytes
        self._retrying = Retrying(
            retry=retry_if_result(bool),
            stop=stop_after_attempt(max_attempts),
            wait=wait_exponential_jitter(multiplier=0.2, max=10, jitter=0.2),
            sleep=sleep,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else [],
        )

    def send(self, messages: Sequence[Outgoing], *, job_items: int | None = None) -> list[SendFailure]:
        """Send every message; returns those that could not be sent."""
        attributes = (
            {JOB_ITEMS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(job_items)}} if job_items else {}
        )
        failed: list[SendFailure] = []
        batches = constrained_batches(
            messages,
            max_size=self._max_message_bytes,
            max_count=SQS_BATCH_ENTRIES,
            get_len=lambda message: len(message.body.encode()) + ATTRIBUTE_ALLOWANCE_BYTES,
        )
        for batch in batches:
            failed.extend(self._send_batch(batch, attributes))
        return failed

    def _send_batch(self, batch: Sequence[Outgoing], attributes: dict[str, Any]) -> list[SendFailure]:
        pending = {message.ref: message for message in batch}
        refused: list[SendFailure] = []

        def attempt() -> list[SendFailure]:
            """Send what is pending; what SQS failed on its side stays pending (and is returned, to retry)."""
            response = self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": entry_id, "MessageBody": message.body, "MessageAttributes": attributes}
                    for entry_id, message in pending.items()
                ],
            )
            for success in response.get("Successful", []):
                pending.pop(success["Id"])
            transient: list[SendFailure] = []
            for failure in response.get("Failed", []):
                error = SendFailure(failure["Id"], f"{failure['Code']}: {failure.get('Message', '')}")
                if failure.get("SenderFault"):
                    pending.pop(failure["Id"])
                    refused.append(error)
                else:
                    transient.append(error)
            return transient

        return refused + self._retrying(attempt)


#: Only items that reached Claude and did not succeed can be sent again; a REJECTED item has no valid request.
#: REQUEUED too: a requeue whose send failed (or was interrupted) left its items marked but unsent; and
#: RETRYING: an item given back whose message ended in the DLQ (or was lost) is otherwise stuck. Sending one
#: twice is harmless, as the consumer's claim lets only one copy through.
REQUEUEABLE_STATES = frozenset(
    {ItemState.ERRORED, ItemState.EXPIRED, ItemState.CANCELED, ItemState.REQUEUED, ItemState.RETRYING}
)


@dataclass(slots=True)
class RequeueReport:
    job_id: str
    requeued: int = 0
    failed: list[SendFailure] = field(default_factory=list)


def requeue(
    jobs: JobStore, sender_for: Callable[[str], QueueSender], job_id: str, states: Collection[str]
) -> RequeueReport:
    """Send a job's items in `states` again, each flipped to REQUEUED first so no item is sent twice."""
    unknown = set(states) - REQUEUEABLE_STATES
    if unknown:
        choices = ", ".join(sorted(state.value for state in REQUEUEABLE_STATES))
        raise ValueError(f"cannot requeue items in {', '.join(sorted(unknown))}; choose from {choices}")
    by_queue: dict[str, list[Outgoing]] = defaultdict(list)
    for record in jobs.items(job_id, states):
        if jobs.mark_requeued(job_id, record["custom_id"], from_states=states):
            by_queue[record["queue_name"]].append(Outgoing(record["custom_id"], record["request"]))
    report = RequeueReport(job_id)
    for queue, messages in by_queue.items():
        failed = sender_for(queue).send(messages)
        report.failed.extend(failed)
        report.requeued += len(messages) - len(failed)
    return report
