"""The jobs table: one DynamoDB table holding a record per job, per work item and per Message Batch.

Keys: job `JOB#<job_id>` / `JOB`, item `JOB#<job_id>` / `ITEM#<custom_id>`, batch `BATCH#<batch_id>` /
`BATCH`. Two sparse indexes keep the poller's questions cheap: `open-records` (attribute `open_kind`) lists
the jobs and batches not yet finished, `open-items` (attribute `open_job`) answers "has this job unfinished
items?" by reading at most one key.

The item record is also the idempotency key for SQS redelivery (see `JobStore.claim`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, ConditionExpressionBuilder, Key
from more_itertools import chunked

from claude_kit import contract

OPEN_RECORDS_INDEX = contract.OPEN_RECORDS_INDEX.name
OPEN_ITEMS_INDEX = contract.OPEN_ITEMS_INDEX.name
PK, SK = contract.JOBS_TABLE.key_names
#: Set only while a job or batch is open (`open-records`) or an item unfinished (`open-items`): sparse.
OPEN_KIND, OPENED_AT = contract.OPEN_RECORDS_INDEX.key_names
(OPEN_JOB,) = contract.OPEN_ITEMS_INDEX.key_names
EXPIRES_AT = contract.JOBS_TABLE.ttl_attribute
#: TransactWriteItems takes at most 100 actions.
MAX_TRANSACTION_ITEMS = 100


class ItemState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"  # claimed by a consumer, lease in `lease_until`
    RETRYING = "RETRYING"  # a consumer gave it back after a retryable failure; SQS redelivers it
    REQUEUED = "REQUEUED"  # sent again by `cli requeue`
    PENDING = "PENDING"  # inside a Message Batch, waiting for the poller
    SUCCEEDED = "SUCCEEDED"
    ERRORED = "ERRORED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"  # invalid work item, never sent to Claude


FINAL_STATES = frozenset(
    {ItemState.SUCCEEDED, ItemState.ERRORED, ItemState.CANCELED, ItemState.EXPIRED, ItemState.REJECTED}
)
#: States from which a newly delivered message may take the item (again).
_CLAIMABLE = (ItemState.RETRYING, ItemState.REQUEUED, ItemState.REJECTED)


class ClaimOutcome(StrEnum):
    CLAIMED = "CLAIMED"  # this consumer owns the item and must finish or release it
    DONE = "DONE"  # an earlier delivery already handled it: drop this one
    BUSY = "BUSY"  # another consumer holds a live claim: try again later
    DUPLICATE = "DUPLICATE"  # the custom_id is taken in this job by a different request: reject this one


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """A valid work item as received, with the job it belongs to resolved."""

    job_id: str
    custom_id: str
    queue: str
    mode: str
    request: str  # the work item's JSON (job_id filled in), kept for `cli requeue`
    model: str
    user_id: str | None
    message_id: str
    receive_count: int


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """How an item ended; token and cost figures feed `results` and the jobs API."""

    state: ItemState
    result_key: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class JobRecord:
    job_id: str
    queue: str
    mode: str
    status: str
    owner_user_id: str | None
    #: How many items the sender announced (`job_items`); None when sent without the enqueue helper.
    expected_items: int | None
    results_uri: str | None
    created_at: str
    completed_at: str | None


@dataclass(frozen=True, slots=True)
class BatchRecord:
    batch_id: str
    job_id: str
    queue: str
    request_count: int
    submitted_at: str


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _job_key(job_id: str) -> dict[str, str]:
    return {PK: f"JOB#{job_id}", SK: "JOB"}


def _item_key(job_id: str, custom_id: str) -> dict[str, str]:
    return {PK: f"JOB#{job_id}", SK: f"ITEM#{custom_id}"}


def _rejection_key(job_id: str, custom_id: str, message_id: str) -> dict[str, str]:
    """Where a rejection goes when its custom_id is already taken: counted in the job, never overwriting."""
    return {PK: f"JOB#{job_id}", SK: f"ITEM#{custom_id}#{message_id}"}


def _batch_key(batch_id: str) -> dict[str, str]:
    return {PK: f"BATCH#{batch_id}", SK: "BATCH"}


def _claim_condition(now: float, request: str) -> ConditionBase:
    """An item may be claimed if new or refused (REJECTED), or, for the same request, if given back or held
    by a consumer whose lease has run out."""
    given_back = Attr("state").is_in([ItemState.RETRYING.value, ItemState.REQUEUED.value])
    lease_lapsed = Attr("state").eq(ItemState.IN_PROGRESS.value) & Attr("lease_until").lt(Decimal(now))
    return (
        Attr(PK).not_exists()
        | Attr("state").eq(ItemState.REJECTED.value)
        | (Attr("request").eq(request) & (given_back | lease_lapsed))
    )


def _refused(old_item: Mapping[str, Any], request: str) -> ClaimOutcome:
    """Why a claim's condition failed, from the item as it was (DynamoDB's JSON: `{"state": {"S": …}}`)."""
    if old_item.get("request", {}).get("S", request) != request:
        return ClaimOutcome.DUPLICATE
    previous = old_item.get("state", {}).get("S")
    return ClaimOutcome.BUSY if previous == ItemState.IN_PROGRESS else ClaimOutcome.DONE


def _outcome_fields(outcome: ItemOutcome) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "state": outcome.state.value,
        "result_key": outcome.result_key,
        "error_type": outcome.error_type,
        "error_message": outcome.error_message[:1000] if outcome.error_message else None,
        "stop_reason": outcome.stop_reason,
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "cost_usd": None if outcome.cost_usd is None else Decimal(str(round(outcome.cost_usd, 8))),
    }
    return {name: value for name, value in fields.items() if value is not None}


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


class JobStore:
    """All reads and writes of the jobs table; `table` is a boto3 DynamoDB Table resource."""

    def __init__(self, table: Any, *, ttl_days: int, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ttl_seconds = ttl_days * 86_400
        self._clock = clock
        self._conditional_failed = table.meta.client.exceptions.ConditionalCheckFailedException
        self._transaction_canceled = table.meta.client.exceptions.TransactionCanceledException

    # Jobs

    def open_job(
        self,
        job_id: str,
        *,
        queue: str,
        mode: str,
        owner_user_id: str | None,
        expected_items: int | None,
        results_uri: str,
    ) -> None:
        """Create the job record on first sight, or reopen it; the first owner and expected count stick."""
        now = self._clock()
        assignments = [
            "job_id = :job, queue_name = :queue, job_mode = :mode, results_uri = :uri, job_status = :open",
            f"{OPEN_KIND} = :kind, {OPENED_AT} = if_not_exists({OPENED_AT}, :now), updated_at = :now",
            f"created_at = if_not_exists(created_at, :now), {EXPIRES_AT} = :ttl",
        ]
        values: dict[str, Any] = {
            ":job": job_id,
            ":queue": queue,
            ":mode": mode,
            ":uri": results_uri,
            ":open": "OPEN",
            ":kind": "JOB",
            ":now": _iso(now),
            ":ttl": int(now) + self._ttl_seconds,
        }
        if owner_user_id is not None:
            assignments.append("owner_user_id = if_not_exists(owner_user_id, :owner)")
            values[":owner"] = owner_user_id
        if expected_items is not None:
            assignments.append("expected_items = if_not_exists(expected_items, :expected)")
            values[":expected"] = expected_items
        self._table.update_item(
            Key=_job_key(job_id),
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeValues=values,
        )

    def get_job(self, job_id: str) -> JobRecord | None:
        found = self._table.get_item(Key=_job_key(job_id)).get("Item")
        return None if found is None else self._job(found)

    def open_jobs(self) -> list[JobRecord]:
        return [self._job(record) for record in self._query_open("JOB")]

    def has_open_items(self, job_id: str) -> bool:
        """Reads at most one key of the sparse `open-items` index (eventually consistent: polled again)."""
        response = self._table.query(
            IndexName=OPEN_ITEMS_INDEX, KeyConditionExpression=Key(OPEN_JOB).eq(job_id), Limit=1
        )
        return bool(response["Items"])

    def item_counts(self, job_id: str) -> Counter[str]:
        """Items of the job per state, read consistently."""
        counts: Counter[str] = Counter()
        for record in self._query_items(job_id, projection="#s"):
            counts[record["state"]] += 1
        return counts

    def complete_job(self, job_id: str) -> str | None:
        """Mark the job completed once; its completion time, or None if an earlier poll already did."""
        now = _iso(self._clock())
        try:
            self._table.update_item(
                Key=_job_key(job_id),
                UpdateExpression=(
                    f"SET job_status = :done, completed_at = :now REMOVE {OPEN_KIND}, {OPENED_AT}"
                ),
                ConditionExpression=Attr("job_status").eq("OPEN"),
                ExpressionAttributeValues={":done": "COMPLETED", ":now": now},
            )
        except self._conditional_failed:
            return None
        return now

    def reopen_job(self, job_id: str) -> None:
        """Undo `complete_job` when its event could not be published, so the next poll tries again."""
        now = _iso(self._clock())
        self._table.update_item(
            Key=_job_key(job_id),
            UpdateExpression=f"SET job_status = :open, {OPEN_KIND} = :kind, {OPENED_AT} = :now"
            " REMOVE completed_at",
            ExpressionAttributeValues={":open": "OPEN", ":kind": "JOB", ":now": now},
        )

    # Items

    def claim(self, item: QueuedItem, *, lease_seconds: float) -> ClaimOutcome:
        """Take the item for this delivery, so that an SQS redelivery is never submitted or billed twice.

        A conditional put keyed on job_id + custom_id succeeds only if no delivery took the item before, if
        it was refused (REJECTED: a corrected resend may take it), or if this same request was given back
        (RETRYING, REQUEUED) or its consumer died (lease expired). The same record then carries the item's
        state to the end: idempotency costs no extra table or write. A different request under a custom_id
        already taken is a DUPLICATE, whatever state the first one is in.
        """
        now = self._clock()
        try:
            self._table.put_item(
                Item=self._claim_record(item, now, lease_seconds),
                ConditionExpression=_claim_condition(now, item.request),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._conditional_failed as exc:
            return _refused(exc.response.get("Item", {}), item.request)
        return ClaimOutcome.CLAIMED

    def claim_many(self, items: Sequence[QueuedItem], *, lease_seconds: float) -> list[ClaimOutcome]:
        """`claim` for each item (outcomes in order), with one TransactWriteItems per 100 items.

        Each put carries `claim`'s condition, and a transaction commits only if every condition holds when it
        commits, atomically: an item is claimed exactly when `claim` would have claimed it, so a redelivery is
        still never submitted twice (a plain BatchWriteItem takes no conditions and could not promise that).
        A cancelled transaction names each item that failed its condition (with its old state: DONE or BUSY);
        the others are tried again without them. Items a transaction cannot take (a second delivery of the
        same item in this batch, a conflict with another writer) are claimed one by one afterwards. A
        transactional write costs two write units instead of one: cents per million items, for ~10× fewer
        round trips.
        """
        outcomes: dict[int, ClaimOutcome] = {}
        alone: list[int] = []
        together: list[int] = []
        keys: set[tuple[str, str]] = set()
        for index, item in enumerate(items):
            key = (item.job_id, item.custom_id)
            (alone if key in keys else together).append(index)
            keys.add(key)
        for chunk in chunked(together, MAX_TRANSACTION_ITEMS):
            remaining = list(chunk)
            while remaining:
                now = self._clock()
                try:
                    self._transact_claims([items[index] for index in remaining], now, lease_seconds)
                except self._transaction_canceled as exc:
                    remaining = self._sort_cancelled(items, remaining, exc.response, outcomes, alone)
                    continue
                outcomes.update(dict.fromkeys(remaining, ClaimOutcome.CLAIMED))
                remaining = []
        for index in sorted(alone):
            outcomes[index] = self.claim(items[index], lease_seconds=lease_seconds)
        return [outcomes[index] for index in range(len(items))]

    def _transact_claims(self, items: Sequence[QueuedItem], now: float, lease_seconds: float) -> None:
        # The Table resource's client serializes plain values (as the resource does), but places the names
        # and values of condition objects at the top level, where TransactWriteItems has none: build them.
        puts = []
        for item in items:
            condition = ConditionExpressionBuilder().build_expression(_claim_condition(now, item.request))
            puts.append(
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": self._claim_record(item, now, lease_seconds),
                        "ConditionExpression": condition.condition_expression,
                        "ExpressionAttributeNames": condition.attribute_name_placeholders,
                        "ExpressionAttributeValues": condition.attribute_value_placeholders,
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        self._table.meta.client.transact_write_items(TransactItems=puts)

    @staticmethod
    def _sort_cancelled(
        items: Sequence[QueuedItem],
        remaining: list[int],
        response: Mapping[str, Any],
        outcomes: dict[int, ClaimOutcome],
        alone: list[int],
    ) -> list[int]:
        """Record the refusals of a cancelled transaction; return the items to try together again."""
        reasons = response.get("CancellationReasons") or []
        if len(reasons) != len(remaining):
            alone.extend(remaining)
            return []
        again: list[int] = []
        for index, reason in zip(remaining, reasons, strict=True):
            code = reason.get("Code")
            if code == "ConditionalCheckFailed":
                outcomes[index] = _refused(reason.get("Item", {}), items[index].request)
            elif code in (None, "None"):
                again.append(index)
            else:  # TransactionConflict, throttling …: this item alone, after the others
                alone.append(index)
        if len(again) == len(remaining):  # nothing was decided: no progress to expect from another round
            alone.extend(again)
            return []
        return again

    def release(self, item: QueuedItem, *, error_type: str, error_message: str) -> None:
        """Give a claimed item back after a retryable failure: the next delivery may claim it at once."""
        self._table.update_item(
            Key=_item_key(item.job_id, item.custom_id),
            UpdateExpression="SET #s = :retrying, error_type = :type, error_message = :message,"
            " updated_at = :now REMOVE lease_until",
            ConditionExpression=Attr("state").eq(ItemState.IN_PROGRESS.value),
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":retrying": ItemState.RETRYING.value,
                ":type": error_type,
                ":message": error_message[:1000],
                ":now": _iso(self._clock()),
            },
        )

    def reject(
        self,
        job_id: str,
        custom_id: str,
        *,
        queue: str,
        message_id: str,
        reason: str,
        key: str,
        error_type: str = "invalid_work_item",
    ) -> None:
        """Count a refused message in its job, once per message: under its custom_id while that is free (or
        held by this message's own earlier rejection), otherwise beside it, so no rejection overwrites
        another record or goes uncounted."""
        now = self._clock()
        record = {
            **_item_key(job_id, custom_id),
            "job_id": job_id,
            "custom_id": custom_id,
            "queue_name": queue,
            "state": ItemState.REJECTED.value,
            "message_id": message_id,
            "error_type": error_type,
            "error_message": reason,
            "result_key": key,
            "created_at": _iso(now),
            "updated_at": _iso(now),
            EXPIRES_AT: int(now) + self._ttl_seconds,
        }
        try:
            self._table.put_item(
                Item=record,
                ConditionExpression=Attr(PK).not_exists()
                | (Attr("state").eq(ItemState.REJECTED.value) & Attr("message_id").eq(message_id)),
            )
        except self._conditional_failed:
            self._table.put_item(Item={**record, **_rejection_key(job_id, custom_id, message_id)})

    def finish(self, job_id: str, custom_id: str, outcome: ItemOutcome) -> bool:
        """Move a consumer's IN_PROGRESS item to its final state; False if it was no longer in progress."""
        fields = {**_outcome_fields(outcome), "updated_at": _iso(self._clock())}
        names = {f"#{index}": name for index, name in enumerate(fields)}
        assignments = ", ".join(f"#{index} = :{index}" for index in range(len(fields)))
        try:
            self._table.update_item(
                Key=_item_key(job_id, custom_id),
                UpdateExpression=f"SET {assignments} REMOVE {OPEN_JOB}, lease_until",
                ConditionExpression=Attr("state").eq(ItemState.IN_PROGRESS.value),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":{index}": value for index, value in enumerate(fields.values())},
            )
        except self._conditional_failed:
            return False
        return True

    def finish_batch_items(
        self, job_id: str, batch_id: str, outcomes: Mapping[str, ItemOutcome]
    ) -> list[dict[str, Any]]:
        """Final states for up to 100 items of one Message Batch; returns the records it changed.

        Items still PENDING in `batch_id` are read, then written back whole in batches of 25. That is safe
        without conditions because the poller holding the batch's collection lease is the only writer of its
        PENDING items; items already final (an interrupted earlier collection) are skipped, not counted twice.
        """
        now = _iso(self._clock())
        finished: list[dict[str, Any]] = []
        with self._table.batch_writer() as writer:
            for record in self._get_items(job_id, outcomes.keys()):
                if record["state"] != ItemState.PENDING or record.get("batch_id") != batch_id:
                    continue
                updated = {
                    name: value for name, value in record.items() if name not in (OPEN_JOB, "lease_until")
                }
                updated.update(_outcome_fields(outcomes[record["custom_id"]]), updated_at=now)
                writer.put_item(Item=updated)
                finished.append(updated)
        return finished

    def items(self, job_id: str, states: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """The job's item records, optionally only those in `states`."""
        wanted = None if states is None else set(states)
        for record in self._query_items(job_id):
            if wanted is None or record["state"] in wanted:
                yield record

    def mark_requeued(self, job_id: str, custom_id: str, *, from_states: Iterable[str]) -> bool:
        """Flip a finished item to REQUEUED once, so two concurrent requeues cannot both resend it."""
        now = self._clock()
        try:
            self._table.update_item(
                Key=_item_key(job_id, custom_id),
                UpdateExpression=f"SET #s = :requeued, {OPEN_JOB} = :job, updated_at = :now",
                ConditionExpression=Attr("state").is_in(list(from_states)),
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":requeued": ItemState.REQUEUED.value,
                    ":job": job_id,
                    ":now": _iso(now),
                },
            )
        except self._conditional_failed:
            return False
        return True

    # Message Batches

    def record_batch(
        self, batch_id: str, *, job_id: str, queue: str, items: Sequence[QueuedItem] = ()
    ) -> None:
        """The Message Batch's record, then its items marked PENDING in it, in batched puts (25 a call).

        Plain puts are safe for the items: this consumer holds their claims. One call for a batch of up to 24
        items instead of two; a failure part way raises, and the caller logs the batch id for recovery.
        """
        now = self._clock()
        with self._table.batch_writer() as writer:
            writer.put_item(
                Item={
                    **_batch_key(batch_id),
                    "batch_id": batch_id,
                    "job_id": job_id,
                    "queue_name": queue,
                    "request_count": len(items),
                    "batch_status": "in_progress",
                    "submitted_at": _iso(now),
                    OPEN_KIND: "BATCH",
                    OPENED_AT: _iso(now),
                    EXPIRES_AT: int(now) + self._ttl_seconds,
                }
            )
            for item in items:
                record = self._item_record(item, ItemState.PENDING, now)
                record["batch_id"] = batch_id
                writer.put_item(Item=record)

    def open_batches(self) -> list[BatchRecord]:
        return [
            BatchRecord(
                batch_id=record["batch_id"],
                job_id=record["job_id"],
                queue=record["queue_name"],
                request_count=int(record["request_count"]),
                submitted_at=record["submitted_at"],
            )
            for record in self._query_open("BATCH")
        ]

    def claim_batch(self, batch_id: str, *, lease_seconds: float) -> bool:
        """Let one poller at a time collect an ended batch; a crashed poller's lease runs out."""
        now = self._clock()
        try:
            self._table.update_item(
                Key=_batch_key(batch_id),
                UpdateExpression="SET collect_lease_until = :lease",
                ConditionExpression=Attr(OPEN_KIND).exists()
                & (Attr("collect_lease_until").not_exists() | Attr("collect_lease_until").lt(Decimal(now))),
                ExpressionAttributeValues={":lease": Decimal(int(now + lease_seconds))},
            )
        except self._conditional_failed:
            return False
        return True

    def close_batch(self, batch_id: str, *, results_key: str, counts: dict[str, int]) -> None:
        self._table.update_item(
            Key=_batch_key(batch_id),
            UpdateExpression="SET batch_status = :ended, results_key = :key, result_counts = :counts,"
            f" collected_at = :now REMOVE {OPEN_KIND}, {OPENED_AT}, collect_lease_until",
            ExpressionAttributeValues={
                ":ended": "ended",
                ":key": results_key,
                ":counts": counts,
                ":now": _iso(self._clock()),
            },
        )

    # Helpers

    def _claim_record(self, item: QueuedItem, now: float, lease_seconds: float) -> dict[str, Any]:
        record = self._item_record(item, ItemState.IN_PROGRESS, now)
        record["lease_until"] = Decimal(int(now + lease_seconds))
        return record

    def _item_record(self, item: QueuedItem, state: ItemState, now: float) -> dict[str, Any]:
        record: dict[str, Any] = {
            **_item_key(item.job_id, item.custom_id),
            "job_id": item.job_id,
            "custom_id": item.custom_id,
            "queue_name": item.queue,
            "item_mode": item.mode,
            "state": state.value,
            OPEN_JOB: item.job_id,
            "model": item.model,
            "request": item.request,
            "message_id": item.message_id,
            "receive_count": item.receive_count,
            "created_at": _iso(now),
            "updated_at": _iso(now),
            EXPIRES_AT: int(now) + self._ttl_seconds,
        }
        if item.user_id is not None:
            record["user_id"] = item.user_id
        return record

    def _get_items(self, job_id: str, custom_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
        """BatchGetItem (consistent, at most 100 keys), following UnprocessedKeys."""
        client = self._table.meta.client
        request: dict[str, Any] = {
            self._table.name: {
                "Keys": [_item_key(job_id, custom_id) for custom_id in custom_ids],
                "ConsistentRead": True,
            }
        }
        while request:
            response = client.batch_get_item(RequestItems=request)
            yield from response["Responses"].get(self._table.name, [])
            request = response.get("UnprocessedKeys") or {}

    def _query_open(self, kind: str) -> Iterator[dict[str, Any]]:
        yield from self._paginate(
            IndexName=OPEN_RECORDS_INDEX, KeyConditionExpression=Key(OPEN_KIND).eq(kind)
        )

    def _query_items(self, job_id: str, projection: str | None = None) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key(PK).eq(f"JOB#{job_id}") & Key(SK).begins_with("ITEM#"),
            "ConsistentRead": True,
        }
        if projection is not None:
            query["ProjectionExpression"] = projection
            query["ExpressionAttributeNames"] = {"#s": "state"}
        yield from self._paginate(**query)

    def _paginate(self, **query: Any) -> Iterator[dict[str, Any]]:
        while True:
            response = self._table.query(**query)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _job(record: dict[str, Any]) -> JobRecord:
        return JobRecord(
            job_id=record["job_id"],
            queue=record["queue_name"],
            mode=record["job_mode"],
            status=record["job_status"],
            owner_user_id=record.get("owner_user_id"),
            expected_items=_optional_int(record.get("expected_items")),
            results_uri=record.get("results_uri"),
            created_at=record["created_at"],
            completed_at=record.get("completed_at"),
        )
