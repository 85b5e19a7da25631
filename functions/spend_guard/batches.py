"""Optional part of a close (`alerts.spend_guard_cancel_batches`): cancel the Message Batches still in flight.

Paused consumers submit nothing new, but batches already submitted run on and bill. Cancelled, their
unprocessed requests end `canceled`; the poller collects them as CANCELED items, which
`bin/kit requeue JOB --states CANCELED` sends again after reopening.
"""

from __future__ import annotations

from batch_jobs.message_batches import MessageBatches
from batch_jobs.store import JobStore
from claude_kit.errors import ClaudeError
from claude_kit.observability import logger


def cancel_open_batches(jobs: JobStore, batches: MessageBatches) -> list[str]:
    """Cancel every batch the jobs table still has open; returns the ids the API accepted to cancel."""
    canceled: list[str] = []
    for record in jobs.open_batches():
        try:
            batches.cancel(record.batch_id)
        except ClaudeError as exc:  # ended meanwhile, or the API refused: the poller still collects it
            logger.warning(
                "Message Batch not canceled", extra={"batch_id": record.batch_id, "error": str(exc)}
            )
            continue
        canceled.append(record.batch_id)
    return canceled
