"""What a consumer does with admitted items: batch mode submits them as Message Batches, realtime mode calls
Claude once per item. Both end every item in a state the jobs table records, or hand it back to SQS.

A failure that may heal (429, 5xx, timeout, spend guard closed) releases the item and raises
`RetryLaterError`, so SQS redelivers it and, after `maxReceiveCount`, moves it to the DLQ. Any other Claude
failure is final: the item is ERRORED with the API's reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from more_itertools import constrained_batches

from batch_jobs.intake import InboundMessage, Intake, RetryLaterError
from batch_jobs.message_batches import MAX_BATCH_BYTES, MAX_BATCH_REQUESTS, MessageBatches
from batch_jobs.results import ResultStore
from batch_jobs.schema import WorkItem
from batch_jobs.store import ItemOutcome, ItemState, JobStore, QueuedItem
from claude_kit.calls import CallContext, ClaudeRequest, ClaudeResult
from claude_kit.contract import Metric
from claude_kit.errors import ClaudeError, SpendGuardClosedError
from claude_kit.observability import logger
from claude_kit.reservation import SpendGate
from claude_kit.service import ClaudeService
from claude_kit.telemetry import record_count

Admitted = tuple[QueuedItem, WorkItem]


def may_heal(error: ClaudeError) -> bool:
    """Worth another delivery: the API said so, or the spend guard will reopen (queued work waits for it)."""
    return error.retryable or isinstance(error, SpendGuardClosedError)


def call_context(queued: QueuedItem, remaining_ms: Callable[[], int] | None = None) -> CallContext:
    return CallContext(
        route=f"queue:{queued.queue}",
        user_id=queued.user_id,
        request_id=f"{queued.job_id}/{queued.custom_id}",
        remaining_time_ms=remaining_ms,
    )


def _error_line(custom_id: str, error: ClaudeError) -> dict[str, object]:
    """An errored result in the Message Batches results shape, so both modes' results read alike."""
    detail = {"type": error.error_type, "message": str(error)}
    return {
        "custom_id": custom_id,
        "result": {"type": "errored", "error": {"type": "error", "error": detail}},
    }


class BatchSubmission:
    """Batch mode: stage each message of the invocation, then submit one Message Batch per job (split at the
    API's limits) with `submit()`, which returns the message ids SQS must redeliver."""

    def __init__(
        self, intake: Intake, batches: MessageBatches, jobs: JobStore, gate: SpendGate | None = None
    ) -> None:
        self._intake = intake
        self._batches = batches
        self._jobs = jobs
        self._gate = gate or SpendGate()
        self._staged: dict[str, list[Admitted]] = defaultdict(list)
        self._refusal: ClaudeError | None = None
        self._checked = False

    def prepare(self, messages: Sequence[InboundMessage]) -> None:
        """Claim the invocation's valid items together, before `stage` takes them one by one."""
        self._intake.claim_ahead(messages)

    def stage(self, message: InboundMessage) -> None:
        admitted = self._intake.admit(message)
        if admitted is None:
            return
        refusal = self._gate_refusal()
        if refusal is not None:
            self._settle([admitted], refusal)
            if may_heal(refusal):
                raise RetryLaterError(str(refusal)) from refusal
            return
        self._staged[admitted[0].job_id].append(admitted)

    def _gate_refusal(self) -> ClaudeError | None:
        """The spend switch read once per invocation, its verdict applied to every item.

        Without the user: a quota hold would have to be settled by the poller, in another container, hours
        later. The spend switch applies; per-user quotas apply to realtime queues. An invocation lasts
        seconds, and the switch is cached for `spend_switch_max_age_seconds` anyway.
        """
        if not self._checked:
            try:
                self._gate.refuse_if_closed()
            except ClaudeError as exc:
                self._refusal = exc
            self._checked = True
        return self._refusal

    def submit(self) -> list[str]:
        redeliver: list[str] = []
        for job_id, admitted in self._staged.items():
            chunks = constrained_batches(
                admitted,
                max_size=MAX_BATCH_BYTES,
                max_count=MAX_BATCH_REQUESTS,
                get_len=lambda pair: len(pair[0].request.encode()),
            )
            for chunk in chunks:
                redeliver.extend(self._submit(job_id, chunk))
        self._staged.clear()
        return redeliver

    def _submit(self, job_id: str, chunk: Sequence[Admitted]) -> list[str]:
        requests = [{"custom_id": queued.custom_id, "params": work.params.to_api()} for queued, work in chunk]
        try:
            batch_id = self._batches.create(requests)
        except ClaudeError as exc:
            self._settle(chunk, exc)
            return [queued.message_id for queued, _ in chunk] if may_heal(exc) else []
        queued_items = [queued for queued, _ in chunk]
        try:
            self._jobs.record_batch(batch_id, job_id=job_id, queue=self._intake.queue, items=queued_items)
        except Exception:
            # Anthropic accepted (and bills) the batch, but nothing here points at it: without this line the
            # poller never collects it, and the items' redelivery submits them again once their claims lapse.
            logger.exception(
                "Message Batch submitted but not recorded: record it by hand (see docs/batch.md)",
                extra={
                    "job_id": job_id,
                    "batch_id": batch_id,
                    "custom_ids": [q.custom_id for q in queued_items],
                },
            )
            raise
        record_count(Metric.BATCH_ITEMS_SUBMITTED, len(queued_items))
        logger.info(
            "Message Batch submitted", extra={"job_id": job_id, "batch_id": batch_id, "items": len(chunk)}
        )
        return []

    def _settle(self, admitted: Sequence[Admitted], error: ClaudeError) -> None:
        """Hand items back for redelivery, or end them ERRORED when no redelivery can help."""
        for queued, _ in admitted:
            if may_heal(error):
                self._jobs.release(queued, error_type=error.error_type, error_message=str(error))
            else:
                self._jobs.finish(
                    queued.job_id,
                    queued.custom_id,
                    ItemOutcome(ItemState.ERRORED, error_type=error.error_type, error_message=str(error)),
                )
        if not may_heal(error):
            record_count(Metric.BATCH_ITEMS_ERRORED, len(admitted))
        logger.warning(
            "Claude refused queued items",
            extra={"items": len(admitted), "error_type": error.error_type, "will_retry": may_heal(error)},
        )


class RealtimeRun:
    """Realtime mode: one `ClaudeService.create` per item (its retry policy and telemetry), result to S3.

    After a failure that may heal, the rest of the invocation's items are handed back untried: under a 429
    storm that is the backpressure that keeps the queue from hammering the API.
    """

    def __init__(
        self,
        intake: Intake,
        service: ClaudeService,
        jobs: JobStore,
        results: ResultStore,
        *,
        remaining_ms: Callable[[], int] | None = None,
        min_remaining_seconds: float = 0.0,
    ) -> None:
        self._intake = intake
        self._service = service
        self._jobs = jobs
        self._results = results
        self._remaining_ms = remaining_ms
        self._min_remaining_ms = min_remaining_seconds * 1000
        self._backing_off: str | None = None

    def process(self, message: InboundMessage) -> None:
        if self._backing_off is not None:
            raise RetryLaterError(f"not tried: {self._backing_off} earlier in this invocation")
        if self._remaining_ms is not None and self._remaining_ms() < self._min_remaining_ms:
            raise RetryLaterError("not tried: too little time left in this invocation")
        admitted = self._intake.admit(message)
        if admitted is None:
            return
        queued, work = admitted
        params = work.params
        request = ClaudeRequest(
            model=str(params.model),
            max_tokens=params.max_tokens,
            messages=[message.model_dump(mode="json") for message in params.messages],
            system=params.system,
            params=params.passthrough,
        )
        try:
            result = self._service.create(request, call_context(queued, self._remaining_ms))
        except ClaudeError as exc:
            self._failed(queued, exc)
            return
        self._succeeded(queued, result)

    def _succeeded(self, queued: QueuedItem, result: ClaudeResult) -> None:
        message = {
            "id": result.message_id,
            "type": "message",
            "role": "assistant",
            "model": result.model,
            "content": result.content,
            "stop_reason": result.stop_reason,
            "usage": {
                "input_tokens": result.usage.input_tokens,
                "output_tokens": result.usage.output_tokens,
                "cache_creation_input_tokens": result.usage.cache_creation_input_tokens,
                "cache_read_input_tokens": result.usage.cache_read_input_tokens,
            },
        }
        line = {"custom_id": queued.custom_id, "result": {"type": "succeeded", "message": message}}
        key = self._results.put_item_result(queued.job_id, queued.custom_id, line)
        outcome = ItemOutcome(
            ItemState.SUCCEEDED,
            result_key=key,
            stop_reason=result.stop_reason,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=result.cost_usd,
        )
        self._jobs.finish(queued.job_id, queued.custom_id, outcome)
        record_count(Metric.BATCH_ITEMS_SUCCEEDED)

    def _failed(self, queued: QueuedItem, error: ClaudeError) -> None:
        if error.ambiguous_attempts and queued.receive_count > 1:
            # It may have been billed each time it timed out: a second delivery that times out is the last.
            error = type(error)(
                f"{error}; may have been billed without an answer on {queued.receive_count} deliveries: "
                "not redelivered again",
                error_type=error.error_type,
                request_id=error.request_id,
            )
        elif may_heal(error):
            self._jobs.release(queued, error_type=error.error_type, error_message=str(error))
            self._backing_off = error.error_type
            raise RetryLaterError(f"{queued.job_id}/{queued.custom_id}: {error.error_type}") from error
        key = self._results.put_item_result(
            queued.job_id, queued.custom_id, _error_line(queued.custom_id, error)
        )
        outcome = ItemOutcome(
            ItemState.ERRORED, result_key=key, error_type=error.error_type, error_message=str(error)
        )
        self._jobs.finish(queued.job_id, queued.custom_id, outcome)
        record_count(Metric.BATCH_ITEMS_ERRORED)
