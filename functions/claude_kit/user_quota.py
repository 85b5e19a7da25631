"""Per-user daily allowances (USD and/or tokens) in one DynamoDB table keyed (`user_id`, `day`).

Item (`user_id`, "2026-11-06") holds `committed_usd` (spent + held by calls in flight), `spent_usd`, the same
two for tokens, `calls`, the warning levels already sent, and a TTL. Item (`user_id`, "allowance") may hold
`daily_usd` / `daily_tokens` overriding the defaults for that user.

A call holds its worst case before it starts, with one conditional update that succeeds only while the
total stays within the allowance; a call whose worst case does not fit is refused, so settling the real cost
(never more than what was held) can never push `spent` over the allowance. Only `claude_kit.reservation`
calls `hold`, `top_up`, `settle` and `release`.

The hold and the settlement are either requests of their own (`hold`, `settle`) or parts of a caller's
transaction (`hold_into`, `settle_into`: the chat writes them with the session's items, one round trip each).
A transaction returns no values, so for those the warning levels are checked against what this container has
seen of the user's day (read with the allowance, at most `override_max_age_seconds` old, plus its own
settlements); the warning write itself is conditional on the stored total, so a level is reported once and
only when truly reached.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar

from claude_kit.contract import EXPIRES_AT, QUOTA_OVERRIDE_DAY, USER_QUOTA_TABLE, Metric
from claude_kit.errors import QuotaExceededError
from claude_kit.observability import logger
from claude_kit.telemetry import record_count
from claude_kit.transaction import CancellationReason, Transaction
from claude_kit.worst_case import Charge

#: Sort key of a user's allowance override item; daily usage items use the ISO date.
OVERRIDE_KEY = QUOTA_OVERRIDE_DAY
USER_ID, DAY = USER_QUOTA_TABLE.key_names
#: Prefixes of a usage item's per-model totals: `usd:claude-sonnet-5-5` and so on.
MODEL_USD, MODEL_TOKENS, MODEL_CALLS = "usd:", "tokens:", "calls:"
#: Usage items disappear (TTL) this long after their day, enough for a monthly look back.
USAGE_RETENTION = timedelta(days=35)
#: Fractions of the daily allowance at which a user's spending is reported once a day.
DEFAULT_WARNING_LEVELS = (0.5, 0.8, 1.0)
_NANO = Decimal("0.000000001")


@dataclass(frozen=True, slots=True)
class Allowance:
    usd: float | None
    tokens: int | None

    @property
    def unlimited(self) -> bool:
        return self.usd is None and self.tokens is None


@dataclass(frozen=True, slots=True)
class QuotaHold:
    """What one call holds of one user's day; `remaining_usd`: the allowance left after this hold."""

    user_id: str
    day: str
    allowance: Allowance
    held: Charge
    #: None when not known: a hold written in a transaction returns no totals.
    remaining_usd: float | None


class UserQuotaExceededError(QuotaExceededError):
    """The call's worst case does not fit in what is left of today's allowance; retry after `resets_at`."""

    user_message: ClassVar[str] = "You have used today's allowance; it renews at midnight UTC"

    def __init__(
        self,
        *,
        user_id: str,
        limit: str,
        used: str,
        needed: str,
        remaining_usd: float | None,
        resets_at: datetime,
        now: datetime,
    ) -> None:
        super().__init__(
            f"user {user_id!r}: this call may cost up to {needed}, more than is left of the daily {limit} "
            f"allowance (used or held: {used})"
        )
        self.limit = limit
        self.used = used
        self.needed = needed
        self.remaining_usd = remaining_usd
        self.resets_at = resets_at
        self.retry_after_seconds = max(1, math.ceil((resets_at - now).total_seconds()))

    def response_headers(self) -> dict[str, str]:
        headers = {"Retry-After": str(self.retry_after_seconds)}
        if self.remaining_usd is not None:
            headers[REMAINING_HEADER] = f"{self.remaining_usd:.6f}"
        return headers


#: Response header with the caller's remaining daily allowance in USD (after the call's worst case is held).
REMAINING_HEADER = "X-Kit-Allowance-Remaining-USD"


class UserQuota:
    def __init__(
        self,
        *,
        table: Any,
        default: Allowance,
        override_max_age_seconds: int = 60,
        warning_levels: Sequence[float] = DEFAULT_WARNING_LEVELS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._default = default
        self._override_max_age = override_max_age_seconds
        self._warning_levels = tuple(sorted(warning_levels))
        self._now = now
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._overrides: dict[str, tuple[float, Allowance]] = {}
        #: What this container knows of each (user, day): the spent total, the warning levels reported.
        self._spent: dict[tuple[str, str], float] = {}
        self._warned: dict[tuple[str, str], set[str]] = {}

    def hold(self, user_id: str, worst: Charge) -> QuotaHold | None:
        """Hold `worst` of today's allowance, or raise `UserQuotaExceededError`; None: no allowance set."""
        allowance = self.allowance(user_id)
        if allowance.unlimited:
            return None
        today = self._now().date()
        held = self._fitted(user_id, today.isoformat(), allowance, worst, expires=_expiry(today))
        committed_usd = float(held.get("committed_usd", 0))
        remaining = None if allowance.usd is None else max(allowance.usd - committed_usd, 0.0)
        return QuotaHold(user_id, today.isoformat(), allowance, worst, remaining)

    def hold_into(self, transaction: Transaction, user_id: str, worst: Charge) -> QuotaHold | None:
        """`hold` as a part of `transaction`: held once it commits; a commit it does not fit raises
        `UserQuotaExceededError`. None: no allowance set (nothing is added)."""
        allowance = self.allowance(user_id)
        if allowance.unlimited:
            return None
        today = self._now().date()
        day = today.isoformat()
        update = self._hold_update(user_id, day, allowance, worst, expires=_expiry(today))

        def refusal(reason: CancellationReason) -> Exception | None:
            if reason.get("Code") != "ConditionalCheckFailed":
                return None
            current = {name: _number(value) for name, value in reason.get("Item", {}).items()}
            return self._refusal(user_id, allowance, worst, current, day)

        transaction.add(
            {
                "Update": {
                    "TableName": self._table.name,
                    **update,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            on_cancel=refusal,
            retry_on_conflict=True,  # another call of the same user holding at the same moment
        )
        return QuotaHold(user_id, day, allowance, worst, remaining_usd=None)

    def top_up(self, hold: QuotaHold, to: Charge) -> QuotaHold | None:
        """Raise the hold to `to` (before another attempt that may bill); None if that does not fit."""
        # In nano-dollars, so float noise (0.9 - 0.6) never adds a rounding step to the hold.
        extra_usd = float(max(_usd(to.usd) - _usd(hold.held.usd), Decimal(0)))
        extra = Charge(usd=extra_usd, tokens=max(to.tokens - hold.held.tokens, 0))
        if extra.usd <= 0 and extra.tokens <= 0:
            return hold
        try:
            self._fitted(hold.user_id, hold.day, hold.allowance, extra, expires=None)
        except UserQuotaExceededError:
            return None
        return QuotaHold(hold.user_id, hold.day, hold.allowance, hold.held + extra, hold.remaining_usd)

    def settle(self, hold: QuotaHold, spent: Charge, *, by_model: Mapping[str, Charge] | None = None) -> None:
        """Replace the hold by what the call spent, counted on the day the hold was taken; `by_model` adds
        the per-model totals (`usd:<model>`, `tokens:<model>`, `calls:<model>`) that `bin/kit usage` shows."""
        update = self._settle_update(hold, spent, by_model or {})
        result = self._table.update_item(**update, ReturnValues="UPDATED_NEW")
        if hold.allowance.usd:
            after = float(result.get("Attributes", {}).get("spent_usd", 0))
            self._seen_spent(hold, after)
            self._warn(hold, after=after)

    def settle_into(
        self,
        transaction: Transaction,
        hold: QuotaHold,
        spent: Charge,
        *,
        by_model: Mapping[str, Charge] | None = None,
    ) -> None:
        """`settle` as a part of `transaction`; the warning levels are checked once it commits."""
        update = self._settle_update(hold, spent, by_model or {})
        transaction.add({"Update": {"TableName": self._table.name, **update}}, retry_on_conflict=True)
        if hold.allowance.usd:
            transaction.after_commit(lambda: self._settled_unseen(hold, spent))

    def release(self, hold: QuotaHold) -> None:
        """Give the whole hold back: the call never reached Claude."""
        self._table.update_item(
            Key={USER_ID: hold.user_id, DAY: hold.day},
            UpdateExpression="ADD committed_usd :usd, committed_tokens :tokens",
            ExpressionAttributeValues={":usd": -_usd_up(hold.held.usd), ":tokens": -hold.held.tokens},
        )

    def allowance(self, user_id: str) -> Allowance:
        """The user's allowance (override or default), read with today's usage item in one request and
        trusted for `override_max_age_seconds`."""
        with self._lock:
            cached = self._overrides.get(user_id)
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        day = self._now().date().isoformat()
        items = self._read(user_id, (OVERRIDE_KEY, day))
        override, usage = items.get(OVERRIDE_KEY, {}), items.get(day, {})
        allowance = Allowance(
            usd=float(override["daily_usd"]) if "daily_usd" in override else self._default.usd,
            tokens=int(override["daily_tokens"]) if "daily_tokens" in override else self._default.tokens,
        )
        with self._lock:
            self._overrides[user_id] = (self._monotonic() + self._override_max_age, allowance)
            self._spent[(user_id, day)] = float(usage.get("spent_usd", 0))
            self._warned[(user_id, day)] = {str(tag) for tag in usage.get("warned_levels", ())}
        return allowance

    def _read(self, user_id: str, days: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        """Items (`user_id`, day) for each of `days` that exist, by day, in one request."""
        keys = [{USER_ID: user_id, DAY: day} for day in days]
        response = self._table.meta.client.batch_get_item(
            RequestItems={self._table.name: {"Keys": keys, "ConsistentRead": True}}
        )
        found = {str(item[DAY]): item for item in response["Responses"].get(self._table.name, [])}
        for key in response.get("UnprocessedKeys", {}).get(self._table.name, {}).get("Keys", []):
            # Throttled keys come back unprocessed: read them one by one rather than guess.
            if item := self._table.get_item(Key=key, ConsistentRead=True).get("Item"):
                found[str(item[DAY])] = item
        return found

    def _hold_update(
        self, user_id: str, day: str, allowance: Allowance, amount: Charge, *, expires: int | None
    ) -> dict[str, Any]:
        """The conditional update adding `amount` to the day's committed totals within the allowance."""
        usd = _usd_up(amount.usd)
        if (allowance.usd is not None and usd > _usd(allowance.usd)) or (
            allowance.tokens is not None and amount.tokens > allowance.tokens
        ):
            # Larger than the whole allowance: refused without a write (a missing item would pass the check).
            current = self._table.get_item(Key={USER_ID: user_id, DAY: day}).get("Item", {})
            raise self._refusal(user_id, allowance, amount, current, day)
        conditions, values = [], {":usd": usd, ":tokens": amount.tokens}
        update = "ADD committed_usd :usd, committed_tokens :tokens"
        if expires is not None:
            update += f" SET {EXPIRES_AT} = :expires"
            values[":expires"] = expires
        if allowance.usd is not None:
            conditions.append("(attribute_not_exists(committed_usd) OR committed_usd <= :usd_room)")
            values[":usd_room"] = _usd(allowance.usd) - usd
        if allowance.tokens is not None:
            conditions.append("(attribute_not_exists(committed_tokens) OR committed_tokens <= :tokens_room)")
            values[":tokens_room"] = allowance.tokens - amount.tokens
        return {
            "Key": {USER_ID: user_id, DAY: day},
            "UpdateExpression": update,
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": values,
        }

    def _settle_update(
        self, hold: QuotaHold, spent: Charge, by_model: Mapping[str, Charge]
    ) -> dict[str, Any]:
        update = (
            "ADD committed_usd :usd_delta, spent_usd :usd, committed_tokens :tokens_delta, "
            "spent_tokens :tokens, calls :one"
        )
        values: dict[str, Any] = {
            ":usd_delta": _usd(spent.usd) - _usd_up(hold.held.usd),
            ":usd": _usd(spent.usd),
            ":tokens_delta": spent.tokens - hold.held.tokens,
            ":tokens": spent.tokens,
            ":one": 1,
        }
        names: dict[str, str] = {}
        for n, (model, charge) in enumerate(sorted(by_model.items())):
            update += f", #usd{n} :usd{n}, #tokens{n} :tokens{n}, #calls{n} :one"
            names |= {f"#usd{n}": f"{MODEL_USD}{model}", f"#tokens{n}": f"{MODEL_TOKENS}{model}"}
            names[f"#calls{n}"] = f"{MODEL_CALLS}{model}"
            values |= {f":usd{n}": _usd(charge.usd), f":tokens{n}": charge.tokens}
        return {
            "Key": {USER_ID: hold.user_id, DAY: hold.day},
            "UpdateExpression": update,
            "ExpressionAttributeValues": values,
            **({"ExpressionAttributeNames": names} if names else {}),
        }

    def _seen_spent(self, hold: QuotaHold, spent_usd: float) -> None:
        with self._lock:
            self._spent[(hold.user_id, hold.day)] = spent_usd

    def _settled_unseen(self, hold: QuotaHold, spent: Charge) -> None:
        """A settlement written without returned totals: warn from this container's view of the day."""
        key = (hold.user_id, hold.day)
        with self._lock:
            self._spent[key] = after = self._spent.get(key, 0.0) + spent.usd
        self._warn(hold, after=after)

    def _fitted(
        self, user_id: str, day: str, allowance: Allowance, amount: Charge, *, expires: int | None
    ) -> dict[str, Any]:
        """ADD `amount` to the day's committed totals if they stay within the allowance; the new totals."""
        update = self._hold_update(user_id, day, allowance, amount, expires=expires)
        try:
            result = self._table.update_item(
                **update,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            current = {name: _number(value) for name, value in exc.response.get("Item", {}).items()}
            raise self._refusal(user_id, allowance, amount, current, day) from exc
        attributes: dict[str, Any] = result.get("Attributes", {})
        return attributes

    def _refusal(
        self, user_id: str, allowance: Allowance, amount: Charge, current: dict[str, Any], day: str
    ) -> UserQuotaExceededError:
        record_count(Metric.QUOTA_REJECTIONS)
        committed_usd = float(current.get("committed_usd", 0))
        committed_tokens = int(current.get("committed_tokens", 0))
        over_usd = allowance.usd is not None and committed_usd + amount.usd > allowance.usd
        if over_usd or allowance.tokens is None:
            limit, used, needed = f"{allowance.usd:g} USD", f"{committed_usd:g} USD", f"{amount.usd:.6f} USD"
        else:
            limit, used, needed = (
                f"{allowance.tokens} tokens",
                f"{committed_tokens} tokens",
                f"{amount.tokens} tokens",
            )
        remaining = None if allowance.usd is None else max(allowance.usd - committed_usd, 0.0)
        return UserQuotaExceededError(
            user_id=user_id,
            limit=limit,
            used=used,
            needed=needed,
            remaining_usd=remaining,
            resets_at=_midnight(date.fromisoformat(day) + timedelta(days=1)),
            now=self._now(),
        )

    def _warn(self, hold: QuotaHold, *, after: float) -> None:
        """Report each warning level the user's spending reached, once per user and day.

        `after` is the day's spent total after this settlement as far as this container knows;
        the write is conditional on the stored total, so a level is reported only when truly reached and only
        once, whichever container gets there first. Each container tries a level at most once a day."""
        assert hold.allowance.usd is not None
        key = (hold.user_id, hold.day)
        for level in self._warning_levels:
            tag, threshold = f"{level:g}", level * hold.allowance.usd
            with self._lock:
                known = self._warned.setdefault(key, set())
                if tag in known or threshold > after:
                    continue
                known.add(tag)
            try:
                result = self._table.update_item(
                    Key={USER_ID: hold.user_id, DAY: hold.day},
                    UpdateExpression="ADD warned_levels :tag",
                    ConditionExpression=(
                        "spent_usd >= :threshold AND "
                        "(attribute_not_exists(warned_levels) OR NOT contains(warned_levels, :one))"
                    ),
                    ExpressionAttributeValues={":tag": {tag}, ":one": tag, ":threshold": _usd(threshold)},
                    ReturnValues="ALL_NEW",
                )
            except self._table.meta.client.exceptions.ConditionalCheckFailedException:
                continue  # reported already, or not reached after all
            record_count(Metric.USER_ALLOWANCE_WARNINGS)
            logger.warning(
                "User reached a share of the daily allowance",
                extra={
                    "user_id": hold.user_id,
                    "allowance_share": level,
                    "spent_usd": float(result.get("Attributes", {}).get("spent_usd", after)),
                    "allowance_usd": hold.allowance.usd,
                },
            )


def _usd(value: float) -> Decimal:
    """DynamoDB numbers are Decimals; a nano-dollar keeps float noise out of conditions."""
    return _plain(Decimal(str(value)).quantize(_NANO))


def _usd_up(value: float) -> Decimal:
    """Held amounts round up, so a hold is never smaller than the worst case it stands for."""
    return _plain(Decimal(str(value)).quantize(_NANO, rounding=ROUND_CEILING))


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros or an exponent (`0E-9`), which some DynamoDB implementations misread."""
    text = format(value, "f")
    return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)


def _number(value: Any) -> Any:
    """A low-level attribute value ({"N": "1.5"}) as a number; other values as they are."""
    return Decimal(value["N"]) if isinstance(value, dict) and "N" in value else value


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _expiry(day: date) -> int:
    return int(_midnight(day + USAGE_RETENTION).timestamp())
