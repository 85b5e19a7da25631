"""What a consumer does with each SQS message before any Claude call: validate, reject or claim.

Invalid messages become rejection records (S3 object with reason and original body, plus a REJECTED item when
the message names its job and custom_id) and are then acknowledged: they can never succeed, so retrying them
would only fill the DLQ. Valid messages are claimed in the jobs table, which is what makes a redelivery
harmless.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batch_jobs.results import ResultStore
from batch_jobs.schema import ID_PATTERN, InvalidWorkItemError, ItemLimits, WorkItem, parse_work_item
from batch_jobs.store import ClaimOutcome, JobStore, QueuedItem
from claude_kit.contract import Metric
from claude_kit.observability import logger
from claude_kit.telemetry import record_count

_ID = re.compile(ID_PATTERN)
#: The rejection reason of a message reusing a custom_id of its job with a different request.
DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One SQS message, independent of how it arrived (Lambda event, local loop, test)."""

    message_id: str
    body: str
    receive_count: int = 1
    #: How many items the sender put in this job (`job_items` message attribute), when it said so.
    expected_items: int | None = None
    #: What is wrong with the message's attributes (a `job_items` that is not a count): it is rejected.
    attribute_problem: str | None = None


class RetryLaterError(Exception):
    """The message may succeed on a later delivery: report it as a batch item failure so SQS redelivers it."""


class Intake:
    """Per-invocation admission of messages for one queue; remembers which job records it already opened."""

    def __init__(
        self,
        *,
        queue: str,
        mode: str,
        limits: ItemLimits,
        jobs: JobStore,
        results: ResultStore,
        lease_seconds: float,
    ) -> None:
        self.queue = queue
        self.mode = mode
        self._limits = limits
        self._jobs = jobs
        self._results = results
        self._lease_seconds = lease_seconds
        self._opened: set[str] = set()
        self._claimed_ahead: dict[str, tuple[QueuedItem, WorkItem, ClaimOutcome]] = {}

    def claim_ahead(self, messages: Sequence[InboundMessage]) -> None:
        """Claim the valid items among `messages` in as few calls as the table allows (`JobStore.claim_many`).

        `admit` then uses these outcomes; invalid messages, and any claim this could not make (the call
        failed), are left to `admit` to reject or claim alone, so nothing is decided twice or skipped.
        """
        valid: dict[str, tuple[QueuedItem, WorkItem]] = {}
        for message in messages:
            if message.attribute_problem is not None:
                continue
            try:
                work = parse_work_item(message.body, self._limits)
            except InvalidWorkItemError:
                continue
            valid.setdefault(message.message_id, (self._queued(message, work), work))
        if not valid:
            return
        try:
            outcomes = self._jobs.claim_many(
                [queued for queued, _ in valid.values()], lease_seconds=self._lease_seconds
            )
        except Exception:  # `admit` claims each item alone, and reports its own failure
            logger.warning("Claiming items together failed: claiming them one by one", exc_info=True)
            return
        for (message_id, (queued, work)), outcome in zip(valid.items(), outcomes, strict=True):
            self._claimed_ahead[message_id] = (queued, work, outcome)

    def admit(self, message: InboundMessage) -> tuple[QueuedItem, WorkItem] | None:
        """The claimed item, or None when nothing is left (rejected, or an earlier delivery handled it)."""
        if (ahead := self._claimed_ahead.pop(message.message_id, None)) is not None:
            queued, work, outcome = ahead
            return self._admitted(message, queued, work, outcome)
        try:
            if message.attribute_problem is not None:
                raise InvalidWorkItemError("invalid message attribute", [message.attribute_problem])
            work = parse_work_item(message.body, self._limits)
        except InvalidWorkItemError as exc:
            self.reject(message, exc)
            return None
        queued = self._queued(message, work)
        outcome = self._jobs.claim(queued, lease_seconds=self._lease_seconds)
        return self._admitted(message, queued, work, outcome)

    def _queued(self, message: InboundMessage, work: WorkItem) -> QueuedItem:
        return QueuedItem(
            job_id=work.job_id or message.message_id,
            custom_id=work.custom_id,
            queue=self.queue,
            mode=self.mode,
            request=_canonical(work.model_copy(update={"job_id": work.job_id or message.message_id})),
            model=str(work.params.model),
            user_id=work.user_id,
            message_id=message.message_id,
            receive_count=message.receive_count,
        )

    def _admitted(
        self, message: InboundMessage, queued: QueuedItem, work: WorkItem, outcome: ClaimOutcome
    ) -> tuple[QueuedItem, WorkItem] | None:
        if outcome is ClaimOutcome.BUSY:
            raise RetryLaterError(
                f"{queued.job_id}/{queued.custom_id} is being processed by another delivery"
            )
        if outcome is ClaimOutcome.DUPLICATE:
            problem = (
                f"custom_id {queued.custom_id!r} is already taken in job {queued.job_id!r} by another request"
            )
            self.reject(message, InvalidWorkItemError(DUPLICATE, [problem]))
            return None
        if outcome is ClaimOutcome.DONE:
            logger.info(
                "Duplicate delivery skipped", extra={"job_id": queued.job_id, "custom_id": queued.custom_id}
            )
            return None
        self._open_job(queued, message.expected_items)
        return queued, work

    def reject(self, message: InboundMessage, error: InvalidWorkItemError) -> None:
        job_id, custom_id = _attribution(message)
        record = {
            "message_id": message.message_id,
            "queue": self.queue,
            "job_id": job_id,
            "custom_id": custom_id,
            "reason": error.reason,
            "errors": error.errors,
            "body": message.body,
        }
        key = self._results.put_rejection(job_id, message.message_id, record)
        if job_id is not None and custom_id is not None:
            self._jobs.reject(
                job_id,
                custom_id,
                queue=self.queue,
                message_id=message.message_id,
                reason=error.reason,
                key=key,
                error_type="duplicate" if error.reason == DUPLICATE else "invalid_work_item",
            )
            self._open_job_for(job_id, owner_user_id=None, expected_items=message.expected_items)
        record_count(Metric.BATCH_ITEMS_REJECTED)
        logger.warning(
            "Work item rejected",
            extra={
                "message_id": message.message_id,
                "job_id": job_id,
                "reason": error.reason,
                "errors": error.errors,
            },
        )

    def _open_job(self, queued: QueuedItem, expected_items: int | None) -> None:
        self._open_job_for(queued.job_id, owner_user_id=queued.user_id, expected_items=expected_items)

    def _open_job_for(self, job_id: str, *, owner_user_id: str | None, expected_items: int | None) -> None:
        if job_id in self._opened:
            return
        self._jobs.open_job(
            job_id,
            queue=self.queue,
            mode=self.mode,
            owner_user_id=owner_user_id,
            expected_items=expected_items,
            results_uri=self._results.job_uri(job_id),
        )
        self._opened.add(job_id)


def _canonical(work: WorkItem) -> str:
    """The item's JSON with sorted keys: the same request always reads the same, whatever order it came in,
    so a redelivery or a requeue is told from a different request by comparing strings."""
    return json.dumps(work.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))


def _attribution(message: InboundMessage) -> tuple[str | None, str | None]:
    """The job and custom_id an invalid message meant, when it says so legibly, so its job's counts add up."""
    try:
        body: Any = json.loads(message.body)
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    custom_id, job_id = body.get("custom_id"), body.get("job_id")
    if not (isinstance(custom_id, str) and _ID.match(custom_id)):
        return None, None
    if job_id is None:
        return message.message_id, custom_id
    if isinstance(job_id, str) and _ID.match(job_id):
        return job_id, custom_id
    return None, None
