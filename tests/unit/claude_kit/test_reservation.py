"""Reservation: a hold joined to a transaction holds only once it commits, and a deferred settlement is
written exactly once — with the owner's transaction when that commits, on its own when it does not."""

from __future__ import annotations

import contextlib
from typing import Any

from claude_kit.reservation import Reservation
from claude_kit.transaction import Transaction
from claude_kit.user_quota import QuotaHold
from claude_kit.worst_case import Charge
from tests.fixtures.money import MemoryQuota

WORST = Charge(usd=0.5, tokens=100)
SPENT = Charge(usd=0.2, tokens=40)


class JoinableQuota(MemoryQuota):
    """MemoryQuota whose settlement can also ride in a transaction (applied when it commits)."""

    def settle_into(
        self, transaction: Transaction, hold: QuotaHold, spent: Charge, *, by_model: dict[str, Charge]
    ) -> None:
        transaction.add({"Update": {"TableName": "quota"}})
        transaction.after_commit(lambda: self.settle(hold, spent, by_model=by_model))


class Client:
    def __init__(self, *, fails: bool = False) -> None:
        self.fails = fails
        self.items: list[dict[str, Any]] = []

    def transact_write_items(self, **request: Any) -> None:
        if self.fails:
            raise ConnectionError("DynamoDB unreachable")
        self.items += request["TransactItems"]


def held(quota: JoinableQuota, *, pending: bool = False) -> Reservation:
    hold = quota.hold("u", WORST)
    return Reservation(worst_attempt=WORST, quota=quota, hold=hold, pending=pending)  # type: ignore[arg-type]


def test_a_deferred_settlement_rides_in_the_owners_transaction_once() -> None:
    # Given a held call whose owner writes the settlement itself
    quota = JoinableQuota()
    reservation = held(quota)
    reservation.defer_settlement()

    # When the call ends: nothing is written yet, the call's money is decided
    reservation.settle(SPENT)
    with reservation:  # the service's own scope ends: a due settlement is not released
        pass
    assert quota.settled == []
    assert quota.released == []
    assert reservation.finished

    # When the owner's transaction carries it and commits, then the owner finishes
    transaction = Transaction()
    reservation.settle_into(transaction)
    transaction.commit(Client())
    reservation.finish()

    # Then it was settled once, in that transaction
    assert len(transaction) == 1
    assert quota.settled == [SPENT]
    assert quota.released == []
    assert quota.committed == SPENT.usd


def test_a_deferred_settlement_the_transaction_did_not_write_is_written_by_finish() -> None:
    quota = JoinableQuota()
    reservation = held(quota)
    reservation.defer_settlement()
    reservation.settle(SPENT)
    transaction = Transaction()
    reservation.settle_into(transaction)
    with contextlib.suppress(ConnectionError):
        transaction.commit(Client(fails=True))
    assert quota.settled == []
    reservation.finish()
    reservation.finish()
    assert quota.settled == [SPENT]


def test_a_hold_in_a_transaction_never_committed_holds_nothing_and_gives_nothing_back() -> None:
    # Given a reservation whose hold is part of a transaction not yet committed
    quota = JoinableQuota()
    reservation = held(quota, pending=True)
    # Then no attempt may be covered by it, and releasing it writes nothing
    assert not reservation.cover(WORST)
    reservation.release()
    assert quota.released == []
    assert reservation.finished


def test_a_committed_hold_covers_attempts_and_is_released_when_unused() -> None:
    quota = JoinableQuota()
    reservation = held(quota, pending=True)
    reservation.committed()
    assert reservation.cover(WORST)
    assert reservation.cover(Charge(usd=0.9, tokens=100))  # a top-up within the allowance
    reservation.finish()
    assert quota.released == [Charge(usd=0.9, tokens=100)]
    assert quota.committed == 0


def test_without_deferral_settle_writes_at_once_and_later_calls_are_no_ops() -> None:
    quota = JoinableQuota()
    reservation = held(quota)
    reservation.settle(SPENT)
    reservation.settle(SPENT)
    reservation.release()
    transaction = Transaction()
    reservation.settle_into(transaction)
    assert quota.settled == [SPENT]
    assert quota.released == []
    assert len(transaction) == 0
    assert reservation.held == WORST
    assert Reservation(worst_attempt=WORST).remaining_usd is None
