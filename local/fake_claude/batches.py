"""Message Batches as the API runs them: in_progress until the processing delay has passed on the fake's
clock, then ended with one result per request; cancel goes through canceling; unprocessed requests expire
after 24 h.

Results are computed once, when a batch ends, by a resolver the fake supplies (it applies batch item faults
and the same reply logic as /v1/messages).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from local.fake_claude.protocol import ApiError, BatchRequestItem, invalid_request
from local.fake_claude.replies import new_id

EXPIRES_AFTER_S = 24 * 3600.0
ResultType = Literal["succeeded", "errored", "canceled", "expired"]
Resolver = Callable[[BatchRequestItem], dict[str, Any]]


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Batch:
    id: str
    requests: Sequence[BatchRequestItem]
    created_at: float
    ready_at: float
    processing_status: Literal["in_progress", "canceling", "ended"] = "in_progress"
    cancel_initiated_at: float | None = None
    ended_at: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def expires_at(self) -> float:
        return self.created_at + EXPIRES_AFTER_S

    def to_json(self, base_url: str) -> dict[str, Any]:
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if self.processing_status == "ended":
            for result in self.results:
                counts[result["result"]["type"]] += 1
        else:
            counts["processing"] = len(self.requests)
        ended = self.processing_status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.processing_status,
            "request_counts": counts,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "ended_at": rfc3339(self.ended_at) if self.ended_at is not None else None,
            "cancel_initiated_at": (
                rfc3339(self.cancel_initiated_at) if self.cancel_initiated_at is not None else None
            ),
            "archived_at": None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }


class BatchStore:
    """All batches the fake was given. Not thread-safe: the fake calls it under its state lock."""

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve
        self._batches: dict[str, Batch] = {}

    def clear(self) -> None:
        self._batches.clear()

    def create(self, requests: Sequence[BatchRequestItem], *, now: float, processing_delay_s: float) -> Batch:
        seen: set[str] = set()
        for index, item in enumerate(requests):
            if item.custom_id in seen:
                raise invalid_request(f"requests.{index}.custom_id: duplicate custom_id {item.custom_id!r}")
            seen.add(item.custom_id)
        batch = Batch(
            id=new_id("msgbatch_"), requests=requests, created_at=now, ready_at=now + processing_delay_s
        )
        self._batches[batch.id] = batch
        return batch

    def get(self, batch_id: str, *, now: float) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, "not_found_error", f"message batch {batch_id!r} not found")
        self._advance(batch, now)
        return batch

    def page(self, *, now: float, limit: int, after_id: str | None, before_id: str | None) -> dict[str, Any]:
        """Newest first, cut at the cursor, in the {data, has_more, first_id, last_id} shape of SyncPage."""
        ordered = sorted(self._batches.values(), key=lambda b: b.created_at, reverse=True)
        ids = [b.id for b in ordered]
        for cursor in (after_id, before_id):
            if cursor is not None and cursor not in ids:
                raise invalid_request(f"no message batch with id {cursor!r} to page from")
        if after_id is not None:
            window = ordered[ids.index(after_id) + 1 :]
            chosen, has_more = window[:limit], len(window) > limit
        elif before_id is not None:
            window = ordered[: ids.index(before_id)]
            chosen, has_more = window[-limit:], len(window) > limit
        else:
            chosen, has_more = ordered[:limit], len(ordered) > limit
        for batch in chosen:
            self._advance(batch, now)
        return {
            "data": chosen,
            "has_more": has_more,
            "first_id": chosen[0].id if chosen else None,
            "last_id": chosen[-1].id if chosen else None,
        }

    def cancel(self, batch_id: str, *, now: float) -> Batch:
        """Answer `canceling` like the API; the next look finds it ended with its items canceled."""
        batch = self.get(batch_id, now=now)
        if batch.processing_status == "in_progress":
            batch.processing_status = "canceling"
            batch.cancel_initiated_at = now
        return batch

    def delete(self, batch_id: str, *, now: float) -> None:
        batch = self.get(batch_id, now=now)
        if batch.processing_status != "ended":
            raise invalid_request(
                f"message batch {batch_id!r} is still processing: cancel it before deleting"
            )
        del self._batches[batch_id]

    def results(self, batch_id: str, *, now: float) -> list[dict[str, Any]]:
        batch = self.get(batch_id, now=now)
        if batch.processing_status != "ended":
            raise invalid_request(f"message batch {batch_id!r} has not ended: its results are not ready")
        return batch.results

    def _advance(self, batch: Batch, now: float) -> None:
        if batch.processing_status == "canceling":
            self._end(batch, now, [(item, {"type": "canceled"}) for item in batch.requests])
        elif batch.processing_status == "in_progress" and batch.expires_at <= min(now, batch.ready_at):
            self._end(batch, batch.expires_at, [(item, {"type": "expired"}) for item in batch.requests])
        elif batch.processing_status == "in_progress" and now >= batch.ready_at:
            self._end(batch, batch.ready_at, [(item, self._resolve(item)) for item in batch.requests])

    @staticmethod
    def _end(batch: Batch, ended_at: float, outcomes: list[tuple[BatchRequestItem, dict[str, Any]]]) -> None:
        batch.results = [{"custom_id": item.custom_id, "result": result} for item, result in outcomes]
        random.Random(batch.id).shuffle(
            batch.results
        )  # the API promises no order; consumers must not rely on one
        batch.processing_status = "ended"
        batch.ended_at = ended_at
