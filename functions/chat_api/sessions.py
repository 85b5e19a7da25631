"""Conversations in DynamoDB: a header item (seq 0: owner, TTL) and one item per turn (seq 1, 2, …).

Turn sequence numbers are claimed with conditional writes, so two requests extending the same session at once
cannot interleave their turns: the second one fails with `ConcurrentTurnError` before it reaches Claude.

Writes are parts of a `claude_kit.transaction.Transaction` the caller may share (the chat adds the user's
quota hold and settlement to them), committed with `commit`: a turn costs one round trip to start and one to
store its answer. Every turn item carries its owner, so the recent turns a context window needs are one query
from the newest end, header or not (`load_recent`); only `GET /chat/{id}` reads the whole history (`load`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chat_api.errors import ChatError, ConcurrentTurnError, SessionNotFoundError
from chat_api.settings import get_chat_settings
from claude_kit.aws import REQUEST_PATH, dynamodb_table
from claude_kit.contract import EXPIRES_AT, SESSIONS_TABLE
from claude_kit.transaction import CancellationReason, Transaction

SESSION_ID, SEQ = SESSIONS_TABLE.key_names
HEADER_SEQ = 0
_SECONDS_PER_DAY = 86_400


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One message of a conversation, as stored. `partial` marks an answer that failed or was cut off."""

    role: Role
    text: str
    message_id: str
    partial: bool = False
    model: str | None = None
    stop_reason: str | None = None
    error_type: str | None = None
    usage: Mapping[str, int] = field(default_factory=dict)
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredTurn(Turn):
    seq: int
    created_at: str


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    user_id: str
    created_at: str
    #: Highest sequence number handed out so far (turns written, or an answer slot reserved).
    last_seq: int = HEADER_SEQ
    turns: tuple[StoredTurn, ...] = ()


class SessionStore:
    """Reads and writes conversations; every method checks that the caller owns the session.

    Appending a user turn claims two sequence numbers at once, its own and its answer's, with a conditional
    update of the header's `last_seq`: a concurrent request on the same session gets `ConcurrentTurnError`
    instead of overwriting, and the answer always has its slot, whatever happens in between.
    """

    def __init__(self, table: Any, *, ttl_days: int, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ttl_seconds = ttl_days * _SECONDS_PER_DAY
        self._clock = clock

    def start_into(self, transaction: Transaction, user_id: str, turn: Turn) -> tuple[Session, StoredTurn]:
        """A new session whose first user turn is `turn`, as parts of `transaction`: the header (seq 0, with
        the answer's slot, 2, already claimed) and the turn (seq 1)."""
        now = self._clock()
        session = Session(session_id=str(uuid.uuid4()), user_id=user_id, created_at=_iso(now))
        header = {
            SESSION_ID: session.session_id,
            SEQ: HEADER_SEQ,
            "user_id": user_id,
            "created_at": session.created_at,
            "last_seq": HEADER_SEQ + 2,
            EXPIRES_AT: self._expiry(now),
        }
        transaction.add(
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": header,
                    "ConditionExpression": f"attribute_not_exists({SESSION_ID})",
                }
            }
        )
        return session, self._put_turn_into(transaction, session, HEADER_SEQ + 1, turn, now)

    def create(self, user_id: str) -> Session:
        """A session with no turns yet (its first turn: `append_user_turn`)."""
        now = self._clock()
        session = Session(session_id=str(uuid.uuid4()), user_id=user_id, created_at=_iso(now))
        self._table.put_item(
            Item={
                SESSION_ID: session.session_id,
                SEQ: HEADER_SEQ,
                "user_id": user_id,
                "created_at": session.created_at,
                "last_seq": session.last_seq,
                EXPIRES_AT: self._expiry(now),
            },
            ConditionExpression=f"attribute_not_exists({SESSION_ID})",
        )
        return session

    def load(self, session_id: str, user_id: str) -> Session:
        """The whole session, oldest turn first."""
        items = self._query(session_id)
        header = items[0] if items and items[0][SEQ] == HEADER_SEQ else None
        if header is None or header["user_id"] != user_id or self._expired(header):
            raise SessionNotFoundError(session_id)
        turns = tuple(_turn_from_item(item) for item in items[1:] if not self._expired(item))
        return Session(session_id, user_id, str(header["created_at"]), int(header["last_seq"]), turns)

    def load_recent(self, session_id: str, user_id: str, *, turns: int) -> Session:
        """The session with at most its `turns` newest turns, in one query from the newest end.

        Without the header in reach, the owner is checked on the turns (each carries it) and `last_seq` is
        the slot the newest turn implies (a user turn claims the one after it for its answer); the header's
        own condition still guards the next write. Items written before turns carried an owner: `load`."""
        items = self._query(session_id, newest_first=turns + 1)
        header = items[-1] if items and items[-1][SEQ] == HEADER_SEQ else None
        if header is not None:
            if header["user_id"] != user_id or self._expired(header):
                raise SessionNotFoundError(session_id)
            last_seq, created_at = int(header["last_seq"]), str(header["created_at"])
        elif all("user_id" in item for item in items) and items:
            newest = items[0]
            # The header is refreshed by every write, so it outlives the newest turn.
            if any(item["user_id"] != user_id for item in items) or self._expired(newest):
                raise SessionNotFoundError(session_id)
            last_seq = int(newest[SEQ]) + (1 if newest["role"] == Role.USER else 0)
            created_at = ""
        else:
            return self.load(session_id, user_id)
        recent = [item for item in reversed(items) if item[SEQ] != HEADER_SEQ and not self._expired(item)]
        return Session(
            session_id, user_id, created_at, last_seq, tuple(map(_turn_from_item, recent[-turns:]))
        )

    def append_into(self, transaction: Transaction, session: Session, turn: Turn) -> StoredTurn:
        """The user's turn at `last_seq + 1`, claiming `last_seq + 2` for its answer, as parts of
        `transaction`; a concurrent turn makes its commit raise `ConcurrentTurnError`."""
        seq = session.last_seq + 1
        return self._write_into(
            transaction,
            session,
            seq,
            turn,
            header_update=f"SET {EXPIRES_AT} = :expires, last_seq = :reserved",
            header_condition="user_id = :user AND last_seq = :seen",
            values={":reserved": seq + 1, ":seen": session.last_seq},
        )

    def answer_into(self, transaction: Transaction, session: Session, seq: int, turn: Turn) -> StoredTurn:
        """An answer in the slot `append_into` claimed for it, as parts of `transaction`."""
        return self._write_into(
            transaction,
            session,
            seq,
            turn,
            header_update=f"SET {EXPIRES_AT} = :expires",
            header_condition="user_id = :user",
        )

    def append_user_turn(self, session: Session, turn: Turn) -> StoredTurn:
        """`append_into` a transaction of its own, committed."""
        transaction = Transaction()
        stored = self.append_into(transaction, session, turn)
        self.commit(transaction)
        return stored

    def store_answer(self, session: Session, seq: int, turn: Turn) -> StoredTurn:
        """`answer_into` a transaction of its own, committed."""
        transaction = Transaction()
        stored = self.answer_into(transaction, session, seq, turn)
        self.commit(transaction)
        return stored

    def commit(self, transaction: Transaction) -> None:
        """Write a transaction holding this store's parts (and any other table's, same account and region).

        The resource's client marshals plain Python values, like the Table methods do."""
        transaction.commit(self._table.meta.client)

    def delete(self, session_id: str, user_id: str) -> None:
        """Delete the header first (the session is gone at once, later appends fail), then the turns."""
        items = self._query(session_id)
        if not items or items[0][SEQ] != HEADER_SEQ or items[0]["user_id"] != user_id:
            raise SessionNotFoundError(session_id)
        try:
            self._table.delete_item(
                Key={SESSION_ID: session_id, SEQ: HEADER_SEQ},
                ConditionExpression="user_id = :user",
                ExpressionAttributeValues={":user": user_id},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise SessionNotFoundError(session_id) from exc
            raise
        with self._table.batch_writer() as batch:
            for item in items[1:]:
                batch.delete_item(Key={SESSION_ID: session_id, SEQ: item[SEQ]})

    def _write_into(
        self,
        transaction: Transaction,
        session: Session,
        seq: int,
        turn: Turn,
        *,
        header_update: str,
        header_condition: str,
        values: Mapping[str, Any] | None = None,
    ) -> StoredTurn:
        """Update the header (owner check, TTL) and put the turn if its slot is free."""
        now = self._clock()
        header_values = {":expires": self._expiry(now), ":user": session.user_id, **(values or {})}

        def header_error(reason: CancellationReason) -> ChatError | None:
            if reason.get("Code") == "ConditionalCheckFailed" and "Item" not in reason:
                return SessionNotFoundError(session.session_id)  # the header is gone: the session was deleted
            return _turn_conflict(reason, session)

        transaction.add(
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": {SESSION_ID: session.session_id, SEQ: HEADER_SEQ},
                    "UpdateExpression": header_update,
                    "ConditionExpression": header_condition,
                    "ExpressionAttributeValues": header_values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            on_cancel=header_error,
        )
        return self._put_turn_into(transaction, session, seq, turn, now)

    def _put_turn_into(
        self, transaction: Transaction, session: Session, seq: int, turn: Turn, now: float
    ) -> StoredTurn:
        stored = StoredTurn(**_fields(turn), seq=seq, created_at=_iso(now))
        transaction.add(
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": _turn_item(session, stored, self._expiry(now)),
                    "ConditionExpression": f"attribute_not_exists({SEQ})",
                }
            },
            on_cancel=lambda reason: _turn_conflict(reason, session),
        )
        return stored

    def _query(self, session_id: str, *, newest_first: int | None = None) -> list[dict[str, Any]]:
        """Every item, oldest first; or the `newest_first` newest, newest first."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key(SESSION_ID).eq(session_id),
            "ConsistentRead": True,
        }
        if newest_first is not None:
            kwargs.update(ScanIndexForward=False, Limit=newest_first)
        while True:
            page = self._table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page or (newest_first is not None and len(items) >= newest_first):
                return items if newest_first is None else items[:newest_first]
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            if newest_first is not None:
                kwargs["Limit"] = newest_first - len(items)

    def _expiry(self, now: float) -> int:
        return int(now) + self._ttl_seconds

    def _expired(self, item: Mapping[str, Any]) -> bool:
        """DynamoDB deletes expired items up to a few days late; until then they must not count."""
        return int(item[EXPIRES_AT]) <= self._clock()


def _turn_conflict(reason: CancellationReason, session: Session) -> ChatError | None:
    """Another request claimed the same slot first, or is writing the same item right now."""
    if reason.get("Code") in ("ConditionalCheckFailed", "TransactionConflict"):
        return ConcurrentTurnError(session.session_id)
    return None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _fields(turn: Turn) -> dict[str, Any]:
    return {field.name: getattr(turn, field.name) for field in fields(Turn)}


def _turn_item(session: Session, turn: StoredTurn, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        SESSION_ID: session.session_id,
        SEQ: turn.seq,
        "user_id": session.user_id,
        EXPIRES_AT: expires_at,
        "created_at": turn.created_at,
        "role": turn.role.value,
        "text": turn.text,
        "message_id": turn.message_id,
        "partial": turn.partial,
        "usage": dict(turn.usage),
    }
    optional = {"model": turn.model, "stop_reason": turn.stop_reason, "error_type": turn.error_type}
    item.update({key: value for key, value in optional.items() if value is not None})
    if turn.cost_usd is not None:
        item["cost_usd"] = Decimal(str(turn.cost_usd))
    return item


def _turn_from_item(item: Mapping[str, Any]) -> StoredTurn:
    cost = item.get("cost_usd")
    return StoredTurn(
        seq=int(item[SEQ]),
        created_at=str(item["created_at"]),
        role=Role(item["role"]),
        text=str(item["text"]),
        message_id=str(item["message_id"]),
        partial=bool(item.get("partial", False)),
        model=item.get("model"),
        stop_reason=item.get("stop_reason"),
        error_type=item.get("error_type"),
        usage={key: int(value) for key, value in item.get("usage", {}).items()},
        cost_usd=None if cost is None else float(cost),
    )


@cache
def get_session_store() -> SessionStore:
    """One store per container; a user is waiting, so its table gets short timeouts and fewer retries."""
    settings = get_chat_settings()
    table = dynamodb_table(settings.sessions_table, **REQUEST_PATH)
    return SessionStore(table, ttl_days=settings.session_ttl_days)
