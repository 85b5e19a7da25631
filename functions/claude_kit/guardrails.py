"""Hooks that can refuse a Claude call before it is made and account for it afterwards (spend switch, quotas).

Two guards ship with the kit, both configured by `KIT_*` variables the stack sets:

- `SpendSwitchGuard` refuses every call while the environment's spend switch (an SSM parameter the spend guard
  function closes when the daily cost alarm or the budget fires) is closed.
- `UserQuotaGuard` gives each user a daily allowance (USD and/or tokens) in a DynamoDB table. It reserves the
  most a call can cost before the call and settles the difference after, so concurrent calls cannot overspend.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from claude_kit.aws import dynamodb_table
from claude_kit.calls import Usage
from claude_kit.errors import QuotaExceededError, SpendGuardClosedError
from claude_kit.observability import logger
from claude_kit.pricing import PriceTable, get_price_table
from claude_kit.settings import KitSettings, RuntimeSettings, get_settings
from claude_kit.telemetry import record_count

if TYPE_CHECKING:
    from claude_kit.calls import CallContext
    from claude_kit.telemetry import CallRecord


class CallGuard(Protocol):
    """Consulted by `ClaudeService` around every call; implementations must be cheap and thread-safe.

    One `CallContext` object stands for one call: `check` may run more than once for it (a caller checking
    before it commits to a response, then the service), and must then refuse or reserve only once.
    """

    def check(self, ctx: CallContext) -> None:
        """Raise `SpendGuardClosedError` / `QuotaExceededError` to refuse the call before it spends."""

    def settle(self, ctx: CallContext, record: CallRecord) -> None:
        """Account for a finished call (success, failure or partial stream) from its record."""

    def release(self, ctx: CallContext) -> None:
        """Give back what `check` held for a call that never reached Claude; a no-op once it was settled."""


def release_all(guards: Sequence[CallGuard], ctx: CallContext) -> None:
    """`release` on every guard; a guard's bookkeeping failure is logged, never raised over the real error."""
    for guard in guards:
        try:
            guard.release(ctx)
        except Exception:
            logger.exception("Guard could not release a call", extra={"guard": type(guard).__name__})


class GuardrailSettings(KitSettings):
    """Which guards this function uses; unset means that guard is off (local runs, no users)."""

    #: SSM parameter holding the spend switch, e.g. /claude-kit/dev/spend-switch.
    spend_switch_parameter: str | None = None
    #: Seconds a container trusts its last reading of the switch (one SSM read per container per period);
    #: 0 reads it before every call (local runs).
    spend_switch_max_age_seconds: int = Field(default=30, ge=0)
    #: DynamoDB table of per-user daily usage and allowance overrides.
    quota_table: str | None = None
    user_daily_usd_allowance: float | None = Field(default=None, gt=0)
    user_daily_token_allowance: int | None = Field(default=None, gt=0)
    #: USD reserved per call before it runs; unset means the most a call can cost under this function's caps.
    quota_reservation_usd: float | None = Field(default=None, gt=0)
    #: Seconds a container trusts a user's allowance override read from the table.
    quota_override_max_age_seconds: int = Field(default=60, gt=0)


@cache
def get_guardrail_settings() -> GuardrailSettings:
    return GuardrailSettings()


# -- spend switch --------------------------------------------------------------------------------------------


class SwitchState(BaseModel):
    """The spend switch's value: JSON written by the spend guard (`open`/`closed` alone is accepted too)."""

    model_config = ConfigDict(frozen=True)

    state: Literal["open", "closed"]
    reason: str = ""
    changed_at: datetime | None = None
    changed_by: str | None = None

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    @classmethod
    def parse(cls, raw: str) -> SwitchState:
        """The JSON form or a bare `open` / `closed`; anything else counts as closed: meant to stop."""
        text = raw.strip()
        if text in ("open", "closed"):
            return cls(state=text)
        try:
            return cls.model_validate_json(text)
        except ValueError:
            logger.error(
                "Spend switch holds an unknown value: treated as closed", extra={"value": text[:200]}
            )
            return cls(state="closed", reason="the switch holds an unrecognised value")


OPEN = SwitchState(state="open")


class ParameterSource(Protocol):
    """What the guard needs of Powertools' `SSMProvider`: a cached read."""

    def get(self, name: str, max_age: int | None = None) -> Any: ...


class SpendSwitchGuard:
    """Refuses calls while the switch is closed. Reads are cached `max_age_seconds` per container.

    If the parameter cannot be read, the last value read stands (open if none): an SSM outage or throttling
    must not take the service down.
    """

    def __init__(self, *, provider: ParameterSource, parameter_name: str, max_age_seconds: int = 30) -> None:
        self._provider = provider
        self._name = parameter_name
        self._max_age = max_age_seconds
        self._last = OPEN

    def state(self) -> SwitchState:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            raw = self._provider.get(self._name, max_age=self._max_age)
        except GetParameterError:
            logger.warning("Spend switch unreadable: keeping its last value", extra={"parameter": self._name})
            return self._last
        self._last = SwitchState.parse(str(raw))
        return self._last

    def check(self, ctx: CallContext) -> None:  # noqa: ARG002 (the switch is the same for every caller)
        state = self.state()
        if state.closed:
            record_count("SpendGuardRejections")
            raise SpendGuardClosedError(
                f"spend switch {self._name} is closed: {state.reason or 'no reason given'}"
            )

    def settle(self, ctx: CallContext, record: CallRecord) -> None:
        """Nothing to account: the switch reacts to the cost alarms, which read the calls' metrics."""

    def release(self, ctx: CallContext) -> None:
        """Nothing was held."""


# -- per-user daily quota ------------------------------------------------------------------------------------


class UserQuotaExceededError(QuotaExceededError):
    """Over today's allowance; `resets_at` is the next UTC midnight (a `Retry-After` for HTTP callers)."""

    user_message: ClassVar[str] = "You have used today's allowance; it renews at midnight UTC"

    def __init__(self, *, user_id: str, limit: str, used: str, resets_at: datetime) -> None:
        super().__init__(f"user {user_id!r} is over the daily {limit} allowance (used {used})")
        self.limit = limit
        self.used = used
        self.resets_at = resets_at


@dataclass(frozen=True, slots=True)
class Allowance:
    usd: float | None
    tokens: int | None

    @property
    def unlimited(self) -> bool:
        return self.usd is None and self.tokens is None


@dataclass(frozen=True, slots=True)
class _Reservation:
    day: str
    usd: float
    tokens: int


#: Sort key of a user's allowance override item; daily usage items use the ISO date.
OVERRIDE_KEY = "allowance"
#: Usage items disappear (TTL) this long after their day, enough for a monthly look back.
USAGE_RETENTION = timedelta(days=35)


class UserQuotaGuard:
    """Daily USD / token allowance per user, in one DynamoDB table keyed (`user_id`, `day`).

    Item (`user_id`, "2026-11-06") holds `committed_usd` (spent + reserved by calls in flight), `spent_usd`,
    the same two for tokens, and `calls`. Item (`user_id`, "allowance") may hold `daily_usd` / `daily_tokens`
    to override the defaults for that user. `check` adds a reservation only if the total stays within the
    allowance (one conditional `UpdateItem`); `settle` adds the actual cost minus the reservation. Calls
    without a user id (batch work) are not limited.
    """

    def __init__(
        self,
        *,
        table: Any,
        default: Allowance,
        reservation_usd: float,
        reservation_tokens: int,
        override_max_age_seconds: int = 60,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._default = default
        self._reservation_usd = reservation_usd
        self._reservation_tokens = reservation_tokens
        self._override_max_age = override_max_age_seconds
        self._now = now
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._overrides: dict[str, tuple[float, Allowance]] = {}
        # Pending reservations per CallContext object (`settle` gets the object `check` got). Weak keys: a
        # context that is gone can never be mistaken for a new one that happens to reuse its address.
        self._reservations: weakref.WeakKeyDictionary[CallContext, _Reservation] = weakref.WeakKeyDictionary()

    def check(self, ctx: CallContext) -> None:
        if ctx.user_id is None:
            return
        with self._lock:
            if ctx in self._reservations:
                return  # this call was checked (and reserved for) already
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reservation = self._reserve(ctx.user_id)
        except (BotoCoreError, ClientError):
            # A quota that cannot be read must not take the service down; the spend switch still caps spend.
            logger.exception("Quota table unavailable: call allowed", extra={"user_id": ctx.user_id})
            return
        if reservation is not None:
            with self._lock:
                self._reservations[ctx] = reservation

    def _reserve(self, user_id: str) -> _Reservation | None:
        allowance = self._allowance(user_id)
        if allowance.unlimited:
            return None
        # A reservation larger than the whole allowance would refuse every call: cap it at the allowance.
        usd = min(self._reservation_usd, allowance.usd) if allowance.usd is not None else 0.0
        tokens = min(self._reservation_tokens, allowance.tokens) if allowance.tokens is not None else 0
        today = self._now().date()
        conditions, values = [], {":usd": _decimal(usd), ":tokens": tokens, ":expires": _expiry(today)}
        if allowance.usd is not None:
            conditions.append("(attribute_not_exists(committed_usd) OR committed_usd <= :usd_room)")
            values[":usd_room"] = _decimal(allowance.usd - usd)
        if allowance.tokens is not None:
            conditions.append("(attribute_not_exists(committed_tokens) OR committed_tokens <= :tokens_room)")
            values[":tokens_room"] = allowance.tokens - tokens
        try:
            self._table.update_item(
                Key={"user_id": user_id, "day": today.isoformat()},
                UpdateExpression="ADD committed_usd :usd, committed_tokens :tokens SET expires_at = :expires",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            record_count("QuotaRejections")
            committed = exc.response.get("Item", {})
            committed_usd = float(committed.get("committed_usd", {}).get("N", 0))
            if allowance.usd is not None and committed_usd > allowance.usd - usd:
                limit, used = f"{allowance.usd:g} USD", f"{committed_usd:g} USD"
            else:
                limit, used = (
                    f"{allowance.tokens} tokens",
                    f"{committed.get('committed_tokens', {}).get('N', 0)} tokens",
                )
            raise UserQuotaExceededError(
                user_id=user_id, limit=limit, used=used, resets_at=_midnight(today + timedelta(days=1))
            ) from exc
        return _Reservation(day=today.isoformat(), usd=usd, tokens=tokens)

    def settle(self, ctx: CallContext, record: CallRecord) -> None:
        if (reservation := self._take_reservation(ctx)) is None or ctx.user_id is None:
            return
        # Unknown price: keep the reservation as the cost rather than count the call as free.
        cost = record.cost_usd if record.cost_usd is not None else reservation.usd
        tokens = _total_tokens(record.usage)
        self._table.update_item(
            Key={"user_id": ctx.user_id, "day": reservation.day},
            UpdateExpression=(
                "ADD committed_usd :usd_delta, spent_usd :usd, committed_tokens :tokens_delta, "
                "spent_tokens :tokens, calls :one"
            ),
            ExpressionAttributeValues={
                ":usd_delta": _decimal(cost - reservation.usd),
                ":usd": _decimal(cost),
                ":tokens_delta": tokens - reservation.tokens,
                ":tokens": tokens,
                ":one": 1,
            },
        )

    def release(self, ctx: CallContext) -> None:
        if (reservation := self._take_reservation(ctx)) is None or ctx.user_id is None:
            return
        self._table.update_item(
            Key={"user_id": ctx.user_id, "day": reservation.day},
            UpdateExpression="ADD committed_usd :usd, committed_tokens :tokens",
            ExpressionAttributeValues={":usd": _decimal(-reservation.usd), ":tokens": -reservation.tokens},
        )

    def _take_reservation(self, ctx: CallContext) -> _Reservation | None:
        """The call's pending reservation, removed so that it is settled or released exactly once."""
        with self._lock:
            return self._reservations.pop(ctx, None)

    def _allowance(self, user_id: str) -> Allowance:
        with self._lock:
            cached = self._overrides.get(user_id)
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        item = self._table.get_item(Key={"user_id": user_id, "day": OVERRIDE_KEY}).get("Item", {})
        allowance = Allowance(
            usd=float(item["daily_usd"]) if "daily_usd" in item else self._default.usd,
            tokens=int(item["daily_tokens"]) if "daily_tokens" in item else self._default.tokens,
        )
        with self._lock:
            self._overrides[user_id] = (self._monotonic() + self._override_max_age, allowance)
        return allowance


def _total_tokens(usage: Usage) -> int:
    return (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_creation_input_tokens
        + usage.cache_read_input_tokens
    )


def _decimal(value: float) -> Any:
    """DynamoDB numbers are Decimals; round to micro-dollars so float noise never reaches a condition."""
    from decimal import Decimal

    return Decimal(str(round(value, 6)))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _expiry(day: date) -> int:
    return int(_midnight(day + USAGE_RETENTION).timestamp())


def worst_case_call(settings: RuntimeSettings, prices: PriceTable) -> tuple[float, int]:
    """The most one call can cost under this function's caps: a full context in, `max_tokens_cap` out."""
    usage = Usage(input_tokens=settings.context_max_tokens, output_tokens=settings.max_tokens_cap)
    costs = [cost for model in settings.allowed_models if (cost := prices.cost(model, usage)) is not None]
    return max(costs, default=0.0), usage.input_tokens + usage.output_tokens


# -- the container's guards ----------------------------------------------------------------------------------


@cache
def get_call_guards() -> Sequence[CallGuard]:
    """The guards `KIT_SPEND_SWITCH_PARAMETER` / `KIT_QUOTA_TABLE` turn on.

    The switch comes first, so a closed switch refuses a call before the quota reserves anything for it.
    """
    settings = get_guardrail_settings()
    guards: list[CallGuard] = []
    if settings.spend_switch_parameter:
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        guards.append(
            SpendSwitchGuard(
                provider=SSMProvider(),
                parameter_name=settings.spend_switch_parameter,
                max_age_seconds=settings.spend_switch_max_age_seconds,
            )
        )
    if settings.quota_table:
        usd, tokens = worst_case_call(get_settings(), get_price_table())
        guards.append(
            UserQuotaGuard(
                table=dynamodb_table(settings.quota_table),
                default=Allowance(
                    usd=settings.user_daily_usd_allowance, tokens=settings.user_daily_token_allowance
                ),
                reservation_usd=settings.quota_reservation_usd or usd,
                reservation_tokens=tokens,
                override_max_age_seconds=settings.quota_override_max_age_seconds,
            )
        )
    return tuple(guards)
