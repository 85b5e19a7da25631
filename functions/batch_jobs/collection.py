"""The poller's work: collect ended Message Batches and announce completed jobs.

For each open batch that has ended: its results file is copied to S3 as the API wrote it, every item moves to
its final state (once, even if two polls overlap), succeeded and errored items are recorded as calls with
batch pricing, and the batch is closed. Then every open job without unfinished items is completed and
announced.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO, Any

from more_itertools import chunked

from batch_jobs.completion import CompletionEvents
from batch_jobs.jobs import job_summary
from batch_jobs.message_batches import MessageBatches
from batch_jobs.results import ResultStore
from batch_jobs.store import BatchRecord, ItemOutcome, ItemState, JobStore
from claude_kit.calls import Usage
from claude_kit.contract import Metric
from claude_kit.errors import ClaudeError
from claude_kit.observability import logger
from claude_kit.pricing import estimate_cost
from claude_kit.telemetry import CallRecord, record_call, record_count

_STATE_BY_RESULT = {
    "succeeded": ItemState.SUCCEEDED,
    "errored": ItemState.ERRORED,
    "canceled": ItemState.CANCELED,
    "expired": ItemState.EXPIRED,
}
_METRIC_BY_STATE = {
    ItemState.SUCCEEDED: Metric.BATCH_ITEMS_SUCCEEDED,
    ItemState.ERRORED: Metric.BATCH_ITEMS_ERRORED,
    ItemState.EXPIRED: Metric.BATCH_ITEMS_EXPIRED,
    ItemState.CANCELED: Metric.BATCH_ITEMS_CANCELED,
}
#: Items finished per table round trip (BatchGetItem takes 100 keys).
_ITEMS_PER_WRITE = 100
#: Results are spooled in memory up to this size, then on /tmp.
_SPOOL_IN_MEMORY_BYTES = 32 * 1024 * 1024


@dataclass(slots=True)
class PollReport:
    batches_open: int = 0
    batches_collected: int = 0
    items_finished: int = 0
    jobs_completed: int = 0


class BatchCollector:
    def __init__(
        self,
        *,
        jobs: JobStore,
        results: ResultStore,
        batches: MessageBatches,
        events: CompletionEvents,
        environment: str,
        lease_seconds: float,
        remaining_seconds: Callable[[], float] | None = None,
        min_remaining_seconds: float = 0.0,
    ) -> None:
        self._jobs = jobs
        self._results = results
        self._batches = batches
        self._events = events
        self._environment = environment
        self._lease_seconds = lease_seconds
        self._remaining_seconds = remaining_seconds
        self._min_remaining_seconds = min_remaining_seconds

    def poll(self) -> PollReport:
        report = PollReport()
        for batch in self._jobs.open_batches():
            report.batches_open += 1
            if self._out_of_time():
                logger.info("Poll stopped early: the rest waits for the next run")
                return report
            try:
                ended = self._batches.retrieve(batch.batch_id).processing_status == "ended"
            except ClaudeError:
                logger.exception("Could not check a Message Batch", extra={"batch_id": batch.batch_id})
                continue
            if not ended:
                continue
            try:
                if self._jobs.claim_batch(batch.batch_id, lease_seconds=self._lease_seconds):
                    report.items_finished += self.collect(batch)
                    report.batches_collected += 1
            except Exception:  # one bad batch must not stop the others, or the job completions below
                logger.exception("Could not collect a Message Batch", extra={"batch_id": batch.batch_id})
        for job in self._jobs.open_jobs():
            report.jobs_completed += self.complete_if_finished(job.job_id)
        return report

    def collect(self, batch: BatchRecord) -> int:
        """Store and apply an ended batch's results; returns how many items this call finished."""
        key = self._results.batch_results_key(batch.job_id, batch.batch_id)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES) as spool:
            self._batches.download_results(batch.batch_id, spool)
            spool.seek(0)
            counts = self._apply(batch, key, spool)
            spool.seek(0)
            # After the items: if this upload fails the batch stays open and the next poll uploads it again.
            self._results.upload_batch_results(key, spool)
        self._jobs.close_batch(batch.batch_id, results_key=key, counts={str(s): n for s, n in counts.items()})
        for state, count in counts.items():
            record_count(_METRIC_BY_STATE[state], count)
        logger.info(
            "Message Batch collected",
            extra={"batch_id": batch.batch_id, "job_id": batch.job_id, "results_key": key, "counts": counts},
        )
        return counts.total()

    def complete_if_finished(self, job_id: str) -> bool:
        if self._jobs.has_open_items(job_id):
            return False
        summary = job_summary(self._jobs, job_id)
        if summary is None or not summary.finished:
            return False
        completed_at = self._jobs.complete_job(job_id)
        if completed_at is None:
            return False
        try:
            self._events.publish(replace(summary, status="COMPLETED", completed_at=completed_at))
        except Exception:
            self._jobs.reopen_job(job_id)
            logger.exception(
                "Job completion event not published; retried next poll", extra={"job_id": job_id}
            )
            return False
        logger.info("Job completed", extra={"job_id": job_id, "counts": summary.counts})
        return True

    def _apply(self, batch: BatchRecord, key: str, lines: IO[bytes]) -> Counter[ItemState]:
        from anthropic.types.messages import MessageBatchIndividualResponse

        counts: Counter[ItemState] = Counter()
        entries = (MessageBatchIndividualResponse.model_validate_json(line) for line in lines if line.strip())
        for chunk in chunked(entries, _ITEMS_PER_WRITE):
            outcomes = {entry.custom_id: self._outcome(entry, key) for entry in chunk}
            for record in self._jobs.finish_batch_items(
                batch.job_id,
                batch.batch_id,
                {custom_id: outcome for custom_id, (outcome, _, _) in outcomes.items()},
            ):
                outcome, usage, model = outcomes[record["custom_id"]]
                counts[outcome.state] += 1
                if outcome.state in (ItemState.SUCCEEDED, ItemState.ERRORED):
                    self._record_call(batch, record, outcome, usage, model)
        return counts

    @staticmethod
    def _outcome(entry: Any, key: str) -> tuple[ItemOutcome, Usage, str | None]:
        result = entry.result
        state = _STATE_BY_RESULT[result.type]
        if result.type == "succeeded":
            message = result.message
            usage = Usage.from_api(message.usage)
            outcome = ItemOutcome(
                state,
                result_key=key,
                stop_reason=message.stop_reason,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=estimate_cost(message.model, usage, batch=True),
            )
            return outcome, usage, message.model
        if result.type == "errored":
            error = result.error.error
            return (
                ItemOutcome(state, result_key=key, error_type=error.type, error_message=error.message),
                Usage(),
                None,
            )
        return ItemOutcome(state, result_key=key, error_type=result.type), Usage(), None

    def _record_call(
        self, batch: BatchRecord, item: dict[str, Any], outcome: ItemOutcome, usage: Usage, model: str | None
    ) -> None:
        record = CallRecord(
            environment=self._environment,
            route=f"queue:{batch.queue}",
            model=model or item["model"],
            requested_model=item["model"],
            usage=usage,
            # A batch answers within 24 h by design: its turnaround is not a call latency alarms should see.
            latency_ms=0.0,
            stop_reason=outcome.stop_reason,
            error_type=outcome.error_type,
            cost_usd=outcome.cost_usd if outcome.state is ItemState.SUCCEEDED else 0.0,
            user_id=item.get("user_id"),
            request_id=f"{batch.job_id}/{item['custom_id']}",
            message_id=None,
            batch=True,
        )
        record_call(record)

    def _out_of_time(self) -> bool:
        return self._remaining_seconds is not None and self._remaining_seconds() < self._min_remaining_seconds
