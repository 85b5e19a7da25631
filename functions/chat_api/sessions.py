"""Conversations in DynamoDB: a header item (seq 0: owner, TTL) and one item per turn (seq 1, 2, …).

Turn sequence numbers are claimed with conditional writes, so two requests extending the same session at once
cannot interleave their turns: the second one fails with `ConcurrentTurnError` before it reaches Claude.
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

    def create(self, user_id: str) -> Session:
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
        items = self._query(session_id)
        header = items[0] if items and items[0][SEQ] == HEADER_SEQ else None
        if header is None or header["user_id"] != user_id or self._expired(header):
            raise SessionNotFoundError(session_id)
        turns = tuple(_turn_from_item(item) for item in items[1:] if not self._expired(item))
        return Session(session_id, user_id, str(header["created_at"]), int(header["last_seq"]), turns)

    def append_user_turn(self, session: Session, turn: Turn) -> StoredTurn:
        """Store the user's turn at `last_seq + 1` and reserve `last_seq + 2` for the answer."""
        seq = session.last_seq + 1
        return self._write(
            session,
            seq,
            turn,
            header_update=f"SET {EXPIRES_AT} = :expires, last_seq = :reserved",
            header_condition="user_id = :user AND last_seq = :seen",
            values={":reserved": seq + 1, ":seen": session.last_seq},
        )

    def store_answer(self, session: Session, seq: int, turn: Turn) -> StoredTurn:
        """Store an answer in the slot `append_user_turn` reserved for it."""
        return self._write(
            session,
            seq,
            turn,
            header_update=f"SET {EXPIRES_AT} = :expires",
            header_condition="user_id = :user",
        )

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

    def _write(
        self,
        session: Session,
        seq: int,
        turn: Turn,
        *,
        header_update: str,
        header_condition: str,
        values: Mapping[str, Any] | None = None,
    ) -> StoredTurn:
        """One transaction: update the header (owner check, TTL) and put the turn if its slot is free.

        The resource's client marshals plain Python values, like the Table methods do.
        """
        now = self._clock()
        stored = StoredTurn(**_fields(turn), seq=seq, created_at=_iso(now))
        header_values = {":expires": self._expiry(now), ":user": session.user_id, **(values or {})}
        try:
            self._table.meta.client.transact_write_items(
                # The same token on botocore's retry makes a write that landed but timed out succeed again
                # instead of failing its own condition (a false 409 on a brand-new session).
                ClientRequestToken=str(uuid.uuid4()),
                TransactItems=[
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
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": _turn_item(session.session_id, stored, self._expiry(now)),
                            "ConditionExpression": f"attribute_not_exists({SEQ})",
                        }
                    },
                ],
            )
        except ClientError as exc:
            error = _transaction_error(exc, session)
            if error is None:
                raise
            raise error from exc
        return stored

    def _query(self, session_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key(SESSION_ID).eq(session_id),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _expiry(self, now: float) -> int:
        return int(now) + self._ttl_seconds

    def _expired(self, item: Mapping[str, Any]) -> bool:
        """DynamoDB deletes expired items up to a few days late; until then they must not count."""
        return int(item[EXPIRES_AT]) <= self._clock()


def _transaction_error(exc: ClientError, session: Session) -> ChatError | None:
    """Name what cancelled the transaction, from DynamoDB's per-item reasons (in TransactItems order)."""
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return None
    header, turn = exc.response["CancellationReasons"]
    codes = {header.get("Code"), turn.get("Code")}
    if header.get("Code") == "ConditionalCheckFailed" and "Item" not in header:
        return SessionNotFoundError(session.session_id)  # the header is gone: the session was deleted
    if codes & {"ConditionalCheckFailed", "TransactionConflict"}:
        return ConcurrentTurnError(session.session_id)
    return None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _fields(turn: Turn) -> dict[str, Any]:
    return {field.name: getattr(turn, field.name) for field in fields(Turn)}


def _turn_item(session_id: str, turn: StoredTurn, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        SESSION_ID: session_id,
        SEQ: turn.seq,
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
