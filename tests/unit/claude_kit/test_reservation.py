"""Reservation: a hold joined to a transaction holds only once it commits, and a deferred settlement is
written exactly once — with the owner's transaction when that commits, on its own when it does not."""

from __future__ import annotations

import contextlib
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from claude_kit.calls import CallContext
from claude_kit.reservation import GuardrailSettings, Reservation, SpendGate, get_spend_gate
from claude_kit.transaction import Transaction
from claude_kit.user_quota import Allowance, QuotaHold
from claude_kit.worst_case import Charge
from local.guardrails import create_quota_table
from tests.fixtures.money import MemoryQuota

WORST = Charge(usd=0.5, tokens=100)
SPENT = Charge(usd=0.2, tokens=40)


class JoinableQuota(MemoryQuota):
    """MemoryQuota whose hold and settlement can also ride in a transaction (the hold is counted at once)."""

    def hold_into(self, transaction: Transaction, user_id: str, worst: Charge) -> QuotaHold | None:
        transaction.add({"Update": {"TableName": "quota"}})
        return self.hold(user_id, worst)

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
    assert reservation.finished
    reservation.settle(SPENT)
    reservation.release()
    transaction = Transaction()
    reservation.settle_into(transaction)
    assert quota.settled == [SPENT]
    assert quota.released == []
    assert len(transaction) == 0
    assert reservation.held == WORST
    assert Reservation(worst_attempt=WORST).remaining_usd is None


def test_the_guardrail_settings_are_read_from_the_kit_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "KIT_SPEND_SWITCH_PARAMETER": "/claude-kit/test/spend-switch",
        "KIT_SPEND_SWITCH_MAX_AGE_SECONDS": "7",
        "KIT_QUOTA_TABLE": "quota",
        "KIT_USER_DAILY_USD_ALLOWANCE": "2.5",
        "KIT_USER_DAILY_TOKEN_ALLOWANCE": "1000",
        "KIT_QUOTA_OVERRIDE_MAX_AGE_SECONDS": "5",
        "KIT_USER_WARNING_LEVELS": "[0.25, 0.9]",
    }.items():
        monkeypatch.setenv(name, value)

    assert GuardrailSettings() == GuardrailSettings(
        spend_switch_parameter="/claude-kit/test/spend-switch",
        spend_switch_max_age_seconds=7,
        quota_table="quota",
        user_daily_usd_allowance=2.5,
        user_daily_token_allowance=1000,
        quota_override_max_age_seconds=5,
        user_warning_levels=(0.25, 0.9),
    )


def test_unset_guardrail_settings_mean_every_brake_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KIT_SPEND_SWITCH_PARAMETER", "KIT_QUOTA_TABLE", "KIT_USER_DAILY_USD_ALLOWANCE"):
        monkeypatch.delenv(name, raising=False)
    settings = GuardrailSettings()
    assert (settings.spend_switch_parameter, settings.quota_table, settings.user_daily_usd_allowance) == (
        None,
        None,
        None,
    )
    assert (settings.spend_switch_max_age_seconds, settings.quota_override_max_age_seconds) == (30, 60)
    assert settings.user_warning_levels == (0.5, 0.8, 1.0)


def test_the_gate_wires_the_switch_alone_from_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_SPEND_SWITCH_PARAMETER", "/claude-kit/test/spend-switch")
    monkeypatch.setenv("KIT_SPEND_SWITCH_MAX_AGE_SECONDS", "7")
    monkeypatch.delenv("KIT_QUOTA_TABLE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    gate = get_spend_gate()

    assert gate.quota is None
    assert gate.switch is not None
    assert gate.switch.parameter_name == "/claude-kit/test/spend-switch"
    assert gate.switch._max_age == 7
    assert get_spend_gate() is gate  # built once per container


def test_the_gate_wires_the_quota_alone_from_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given only a quota table, with a default allowance in both units
    monkeypatch.delenv("KIT_SPEND_SWITCH_PARAMETER", raising=False)
    for name, value in {
        "KIT_QUOTA_TABLE": "quota",
        "KIT_USER_DAILY_USD_ALLOWANCE": "2.5",
        "KIT_USER_DAILY_TOKEN_ALLOWANCE": "1000",
        "KIT_QUOTA_OVERRIDE_MAX_AGE_SECONDS": "5",
        "KIT_USER_WARNING_LEVELS": "[0.9, 0.25]",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)

    with mock_aws():
        create_quota_table(boto3.client("dynamodb"), "quota")
        gate = get_spend_gate()

        # Then a user without an override gets the default allowance from that table
        assert gate.switch is None
        assert gate.quota is not None
        assert gate.quota.allowance("user-1") == Allowance(usd=2.5, tokens=1000)
    assert gate.quota._table.name == "quota"
    assert gate.quota._override_max_age == 5
    assert gate.quota._warning_levels == (0.25, 0.9)


class Unreachable(MemoryQuota):
    """The quota table cannot be reached (throttled, a network error): every request fails like boto3's."""

    def hold(self, user_id: str, worst: Charge) -> QuotaHold | None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    def hold_into(self, transaction: Transaction, user_id: str, worst: Charge) -> QuotaHold | None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")


@pytest.mark.parametrize("joined", [False, True], ids=["own-request", "in-a-transaction"])
def test_an_unreachable_quota_table_lets_the_call_through_holding_nothing(
    joined: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a gate whose quota table cannot be reached
    quota = Unreachable()
    gate = SpendGate(quota=quota)  # type: ignore[arg-type]
    transaction = Transaction() if joined else None

    # When a user's call is reserved
    reservation = gate.reserve(CallContext(route="chat", user_id="u"), WORST, transaction=transaction)

    # Then it goes ahead, nothing held, every further attempt allowed, and the failure is logged
    assert (reservation.held, reservation.remaining_usd) == (Charge(), None)
    assert reservation.cover(WORST * 3)
    reservation.settle(SPENT)
    assert quota.settled == quota.released == []
    assert [record.message for record in caplog.records] == ["Quota table unavailable: call allowed"]


@pytest.mark.parametrize("joined", [False, True], ids=["own-request", "in-a-transaction"])
def test_a_call_allowed_without_the_quota_table_has_nothing_to_give_back(
    joined: bool, caplog: pytest.LogCaptureFixture
) -> None:
    quota = Unreachable()
    transaction = Transaction() if joined else None
    with SpendGate(quota=quota).reserve(  # type: ignore[arg-type]
        CallContext(route="chat", user_id="u"), WORST, transaction=transaction
    ):
        pass  # the call never reached Claude
    assert quota.released == []
    assert [record.message for record in caplog.records] == ["Quota table unavailable: call allowed"]


def test_a_call_without_a_user_or_without_a_quota_holds_nothing() -> None:
    quota = JoinableQuota()
    for gate, ctx in (
        (SpendGate(quota=quota), CallContext(route="batch")),  # type: ignore[arg-type]
        (SpendGate(), CallContext(route="chat", user_id="u")),
    ):
        reservation = gate.reserve(ctx, WORST)
        assert reservation.cover(WORST * 2)
        reservation.settle(SPENT)
    assert quota.holds == quota.settled == []


def test_a_reservation_through_the_gate_holds_and_settles_the_users_quota() -> None:
    quota = JoinableQuota(allowance_usd=1.0)
    reservation = SpendGate(quota=quota).reserve(CallContext(route="chat", user_id="u"), WORST)  # type: ignore[arg-type]

    assert (reservation.held, reservation.remaining_usd) == (WORST, 0.5)
    reservation.settle(SPENT)
    assert quota.settled == [SPENT]
    assert quota.committed == pytest.approx(SPENT.usd)


def test_a_hold_joined_to_a_transaction_holds_once_it_commits() -> None:
    # Given a reservation made with the owner's transaction
    quota = JoinableQuota()
    transaction = Transaction()
    reservation = SpendGate(quota=quota).reserve(  # type: ignore[arg-type]
        CallContext(route="chat", user_id="u"), WORST, transaction=transaction
    )
    # Then it covers nothing before the commit, and everything it holds after it
    assert not reservation.cover(WORST)
    transaction.commit(Client())
    assert reservation.cover(WORST)
    assert not reservation.finished


def test_cover_tops_up_only_past_the_hold_and_keeps_the_hold_when_refused() -> None:
    quota = JoinableQuota(allowance_usd=1.0)
    reservation = held(quota)
    # Within the hold (both units): no top-up
    assert reservation.cover(Charge(usd=0.5, tokens=100))
    assert reservation.cover(Charge(usd=0.1, tokens=10))
    assert quota.top_ups == []
    # More tokens than held: a top-up, even at the same dollars
    assert reservation.cover(Charge(usd=0.5, tokens=101))
    assert quota.top_ups == [Charge(usd=0.5, tokens=101)]
    # Past the allowance: refused, and the hold stays as it was
    assert not reservation.cover(Charge(usd=1.5, tokens=101))
    assert reservation.held == Charge(usd=0.5, tokens=101)
    # Once settled, nothing more is covered
    reservation.settle(SPENT)
    assert not reservation.cover(Charge(usd=0.1, tokens=1))


def test_release_gives_the_hold_back_once_and_a_settled_call_is_never_released() -> None:
    quota = JoinableQuota()
    released = held(quota)
    with released:
        pass
    released.release()
    released.settle(SPENT)
    assert quota.released == [WORST]
    assert quota.settled == []
    assert released.finished

    settled = held(quota)
    with settled:
        settled.settle(SPENT)
    assert quota.settled == [SPENT]
    assert quota.released == [WORST]


def test_bookkeeping_failures_are_logged_and_never_undo_the_call(caplog: pytest.LogCaptureFixture) -> None:
    class Failing(JoinableQuota):
        def release(self, hold: QuotaHold) -> None:
            raise RuntimeError("quota table unavailable")

    quota = Failing(fail_settle=True)
    held(quota).settle(SPENT)
    held(quota).release()
    deferred = held(quota)
    deferred.defer_settlement()
    deferred.settle(SPENT)
    deferred.finish()

    assert [record.message for record in caplog.records] == [
        "Quota could not settle a Claude call",
        "Quota could not release a hold",
        "Quota could not settle a Claude call",
    ]


def test_the_per_model_split_reaches_the_quota_on_every_settlement_path() -> None:
    by_model = {
        "claude-sonnet-5-5": Charge(usd=0.15, tokens=30),
        "claude-haiku-5-5": Charge(usd=0.05, tokens=10),
    }
    quota = JoinableQuota()
    # Written at once
    held(quota).settle(SPENT, by_model=by_model)
    # Deferred, then written by the owner's transaction
    joined = held(quota)
    joined.defer_settlement()
    joined.settle(SPENT, by_model=by_model)
    transaction = Transaction()
    joined.settle_into(transaction)
    transaction.commit(Client())
    assert joined.finished
    joined.finish()
    # Deferred, then written on its own by finish
    alone = held(quota)
    alone.defer_settlement()
    alone.settle(SPENT, by_model=by_model)
    alone.finish()
    assert alone.finished

    assert quota.by_model == [by_model] * 3
    assert quota.settled == [SPENT] * 3
    assert quota.released == []
