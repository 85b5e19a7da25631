"""The money of one Claude call: held before the call, then settled with what it spent or released, once.

`SpendGate.reserve` is the only way in: it refuses the call while the spend switch is closed or when the
call's worst case does not fit the user's allowance (nothing is held or stored for a refused call), and
otherwise hands back a `Reservation`. The `Reservation` is the one owner of that money: `settle` (the call
reached Claude; its real cost replaces the hold) or `release` (it never did) happens exactly once, whichever
comes first, from any thread; later calls are no-ops. Used as a context manager it is released on the way out
unless it was settled, so no path (an exception, a cancellation, a client gone before the stream started)
can leave a hold behind until midnight.

The chat writes the hold and the settlement together with its session items (`claude_kit.transaction`), one
round trip each: `reserve(…, transaction=…)` holds once that transaction commits, and after
`defer_settlement()` the spent amount waits for the owner's `settle_into` (or is written on its own by
`finish`). Either way it is written once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Self

from pydantic import Field

from claude_kit.aws import REQUEST_PATH, dynamodb_table
from claude_kit.observability import logger
from claude_kit.settings import KitSettings
from claude_kit.worst_case import Charge

if TYPE_CHECKING:
    from claude_kit.calls import CallContext
    from claude_kit.spend_switch import SpendSwitch
    from claude_kit.transaction import Transaction
    from claude_kit.user_quota import QuotaHold, UserQuota


class _State(Enum):
    PENDING = "pending"  # the hold is part of a transaction not committed yet: nothing is held
    HELD = "held"
    SETTLEMENT_DUE = "settlement_due"  # spent is known; its write waits for the owner's transaction
    FINISHED = "finished"


class Reservation:
    def __init__(
        self,
        *,
        worst_attempt: Charge,
        quota: UserQuota | None = None,
        hold: QuotaHold | None = None,
        pending: bool = False,
    ):
        #: The most one attempt of the call can be billed.
        self.worst_attempt = worst_attempt
        self._quota = quota
        self._hold = hold
        self._lock = threading.Lock()
        self._state = _State.PENDING if pending else _State.HELD
        self._deferred = False
        self._spent = Charge()
        self._by_model: Mapping[str, Charge] = {}

    @property
    def remaining_usd(self) -> float | None:
        """The user's allowance left once this call's worst case is held (None: no allowance applies, or not
        known because the hold was written in a transaction)."""
        return self._hold.remaining_usd if self._hold is not None else None

    @property
    def held(self) -> Charge:
        return self._hold.held if self._hold is not None else Charge()

    @property
    def finished(self) -> bool:
        """The call's money is decided: settled, released, or its settlement waiting for the owner's write."""
        with self._lock:
            return self._state in (_State.SETTLEMENT_DUE, _State.FINISHED)

    def committed(self) -> None:
        """The transaction holding this reservation's worst case was written (`SpendGate.reserve`)."""
        with self._lock:
            if self._state is _State.PENDING:
                self._state = _State.HELD

    def defer_settlement(self) -> None:
        """The owner writes the settlement itself, in its own transaction (`settle_into`), and calls `finish`
        when done: `settle` then only records what was spent."""
        with self._lock:
            self._deferred = True

    def cover(self, total: Charge) -> bool:
        """Make sure `total` is held (before an attempt that may bill again); False if it does not fit."""
        with self._lock:
            if self._state is not _State.HELD:
                return False
            if self._quota is None or self._hold is None:
                return True
            if total.usd <= self._hold.held.usd and total.tokens <= self._hold.held.tokens:
                return True
            raised = self._quota.top_up(self._hold, total)
            if raised is None:
                return False
            self._hold = raised
            return True

    def settle(self, spent: Charge, *, by_model: Mapping[str, Charge] | None = None) -> None:
        """The call reached Claude and spent `spent` (known cost plus anything possibly billed); `by_model`:
        the known part per model, for the day's usage by model."""
        with self._lock:
            if self._state is not _State.HELD:
                return
            self._spent, self._by_model = spent, by_model or {}
            if self._deferred and self._hold is not None:
                self._state = _State.SETTLEMENT_DUE
                return
            self._state = _State.FINISHED
        self._write_settlement()

    def settle_into(self, transaction: Transaction) -> None:
        """Add the due settlement to `transaction`; it counts as done once the transaction commits."""
        with self._lock:
            if self._state is not _State.SETTLEMENT_DUE or self._quota is None or self._hold is None:
                return
            hold, spent = self._hold, self._spent
        self._quota.settle_into(transaction, hold, spent, by_model=self._by_model)
        transaction.after_commit(self._settled_in_transaction)

    def release(self) -> None:
        """The call never reached Claude: give the whole hold back. A settlement already due is left to the
        owner's `finish`; a hold never committed has nothing to give back."""
        with self._lock:
            if self._state is _State.PENDING:
                self._state = _State.FINISHED
                return
            if self._state is not _State.HELD:
                return
            self._state = _State.FINISHED
            hold = self._hold
        if hold is not None and self._quota is not None:
            try:
                self._quota.release(hold)
            except Exception:
                logger.exception("Quota could not release a hold", extra={"user_id": hold.user_id})

    def finish(self) -> None:
        """The owner is done: a due settlement its transaction did not write is written on its own; a hold
        that was never settled is released."""
        with self._lock:
            due = self._state is _State.SETTLEMENT_DUE
            if due:
                self._state = _State.FINISHED
        if due:
            self._write_settlement()
        else:
            self.release()

    def _settled_in_transaction(self) -> None:
        with self._lock:
            self._state = _State.FINISHED

    def _write_settlement(self) -> None:
        hold = self._hold
        if hold is None or self._quota is None:
            return
        try:
            self._quota.settle(hold, self._spent, by_model=self._by_model)
        except Exception:  # the call happened: bookkeeping trouble must not undo it
            logger.exception("Quota could not settle a Claude call", extra={"user_id": hold.user_id})

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class GuardrailSettings(KitSettings):
    """Which brakes this function applies; unset means off (local runs, no users)."""

    #: SSM parameter holding the spend switch, e.g. /claude-kit/dev/spend-switch.
    spend_switch_parameter: str | None = None
    #: Seconds a container trusts its last reading of the switch; 0 reads it before every call.
    spend_switch_max_age_seconds: int = Field(default=30, ge=0)
    #: DynamoDB table of per-user daily usage and allowance overrides.
    quota_table: str | None = None
    user_daily_usd_allowance: float | None = Field(default=None, ge=0)
    user_daily_token_allowance: int | None = Field(default=None, ge=0)
    #: Seconds a container trusts a user's allowance override read from the table.
    quota_override_max_age_seconds: int = Field(default=60, gt=0)
    #: Fractions of a user's daily allowance reported once a day (metric `UserAllowanceWarnings`).
    user_warning_levels: tuple[float, ...] = (0.5, 0.8, 1.0)


@cache
def get_guardrail_settings() -> GuardrailSettings:
    return GuardrailSettings()


@dataclass(frozen=True, slots=True)
class SpendGate:
    """The spend switch and the user quota, consulted in that order before every call."""

    switch: SpendSwitch | None = None
    quota: UserQuota | None = None

    def refuse_if_closed(self) -> None:
        if self.switch is not None:
            self.switch.refuse_if_closed()

    def reserve(
        self, ctx: CallContext, worst_attempt: Charge, *, transaction: Transaction | None = None
    ) -> Reservation:
        """Refuse (`SpendGuardClosedError`, `UserQuotaExceededError`) or hold the call's worst case.

        With `transaction`, the hold is one of its parts: it holds once the caller commits it (a commit that
        does not fit raises `UserQuotaExceededError`), and nothing is held if it never does.
        A quota table that cannot be reached lets the call through (logged): an AWS hiccup must not take the
        product down, and the spend switch still caps the environment's spend."""
        self.refuse_if_closed()
        if self.quota is None or ctx.user_id is None:
            return Reservation(worst_attempt=worst_attempt)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if transaction is None:
                hold = self.quota.hold(ctx.user_id, worst_attempt)
            else:
                hold = self.quota.hold_into(transaction, ctx.user_id, worst_attempt)
        except (BotoCoreError, ClientError):
            logger.exception("Quota table unavailable: call allowed", extra={"user_id": ctx.user_id})
            hold = None
        reservation = Reservation(
            worst_attempt=worst_attempt,
            quota=self.quota,
            hold=hold,
            pending=transaction is not None and hold is not None,
        )
        if transaction is not None:
            transaction.after_commit(reservation.committed)
        return reservation


@cache
def get_spend_gate() -> SpendGate:
    """The brakes `KIT_SPEND_SWITCH_PARAMETER` / `KIT_QUOTA_TABLE` turn on, with request-path timeouts."""
    from claude_kit.spend_switch import SpendSwitch
    from claude_kit.user_quota import Allowance, UserQuota

    settings = get_guardrail_settings()
    switch = quota = None
    if settings.spend_switch_parameter:
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        from claude_kit.aws import aws_client

        switch = SpendSwitch(
            provider=SSMProvider(boto3_client=aws_client("ssm", **REQUEST_PATH)),
            parameter_name=settings.spend_switch_parameter,
            max_age_seconds=settings.spend_switch_max_age_seconds,
        )
    if settings.quota_table:
        quota = UserQuota(
            table=dynamodb_table(settings.quota_table, **REQUEST_PATH),
            default=Allowance(
                usd=settings.user_daily_usd_allowance, tokens=settings.user_daily_token_allowance
            ),
            override_max_age_seconds=settings.quota_override_max_age_seconds,
            warning_levels=settings.user_warning_levels,
        )
    return SpendGate(switch=switch, quota=quota)
