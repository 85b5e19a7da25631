"""UserQuota against moto's DynamoDB (in process): the per-model totals of a settlement, holds and settlements
written in transactions, top-ups at their edges, and warnings from a container's own view of the day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from claude_kit.transaction import Transaction
from claude_kit.user_quota import Allowance, QuotaHold, UserQuota, UserQuotaExceededError
from claude_kit.worst_case import Charge
from tests.fixtures.money import Clock, quota_table

NOON = datetime(2026, 12, 6, 12, tzinfo=UTC)
SONNET, HAIKU = "claude-sonnet-5-5", "claude-haiku-5-5"


@pytest.fixture
def table() -> Iterator[Any]:
    with quota_table() as created:
        yield created


def quota(
    table: Any, *, usd: float | None = 1.0, tokens: int | None = None, clock: Clock | None = None
) -> UserQuota:
    return UserQuota(table=table, default=Allowance(usd=usd, tokens=tokens), now=clock or Clock(NOON))


def day(table: Any, name: str = "2026-12-06") -> dict[str, Any]:
    return dict(table.get_item(Key={"user_id": "u", "day": name}).get("Item", {}))


def warnings(capsys: pytest.CaptureFixture[str]) -> int:
    """`UserAllowanceWarnings` metrics emitted since the last look."""
    lines = capsys.readouterr().out.splitlines()
    blobs = [json.loads(line) for line in lines if line.startswith('{"_aws"')]
    return sum(int(blob.get("UserAllowanceWarnings", [0])[0]) for blob in blobs)


def held(quota: UserQuota, usd: float, tokens: int = 0) -> QuotaHold:
    hold = quota.hold("u", Charge(usd=usd, tokens=tokens))
    assert hold is not None
    return hold


def committed_in_transaction(quota: UserQuota, table: Any, usd: float) -> QuotaHold:
    transaction = Transaction()
    hold = quota.hold_into(transaction, "u", Charge(usd=usd, tokens=10))
    assert hold is not None
    transaction.commit(table.meta.client)
    return hold


def settled_in_transaction(quota: UserQuota, table: Any, hold: QuotaHold, spent: Charge, **kw: Any) -> None:
    transaction = Transaction()
    quota.settle_into(transaction, hold, spent, **kw)
    transaction.commit(table.meta.client)


BY_MODEL = {SONNET: Charge(usd=0.25, tokens=300), HAIKU: Charge(usd=0.05, tokens=200)}
SPENT = Charge(usd=0.3, tokens=500)


@pytest.mark.parametrize("joined", [False, True], ids=["own-request", "in-a-transaction"])
def test_a_settlement_adds_each_models_dollars_tokens_and_calls_to_the_day(table: Any, joined: bool) -> None:
    # Given a user's quota with two calls held, each settled with its split by model
    user = quota(table)
    for _ in range(2):
        hold = held(user, 0.4, tokens=600)
        if joined:
            settled_in_transaction(user, table, hold, SPENT, by_model=BY_MODEL)
        else:
            user.settle(hold, SPENT, by_model=BY_MODEL)

    # Then the day holds what was spent, in all and per model, and nothing stays held
    item = day(table)
    assert (item["committed_usd"], item["spent_usd"]) == (Decimal("0.6"), Decimal("0.6"))
    assert (item["committed_tokens"], item["spent_tokens"], item["calls"]) == (1000, 1000, 2)
    assert (item[f"usd:{SONNET}"], item[f"tokens:{SONNET}"], item[f"calls:{SONNET}"]) == (
        Decimal("0.5"),
        600,
        2,
    )
    assert (item[f"usd:{HAIKU}"], item[f"tokens:{HAIKU}"], item[f"calls:{HAIKU}"]) == (Decimal("0.1"), 400, 2)


def test_a_settlement_without_a_split_adds_no_model_totals(table: Any) -> None:
    user = quota(table)
    user.settle(held(user, 0.4), SPENT)
    assert not [name for name in day(table) if ":" in name]
    assert day(table)["calls"] == 1


def test_a_hold_written_in_a_transaction_expires_with_its_day(table: Any) -> None:
    user = quota(table)
    hold = committed_in_transaction(user, table, 0.4)

    item = day(table)
    assert (item["committed_usd"], item["committed_tokens"]) == (Decimal("0.4"), 10)
    assert int(item["expires_at"]) == int(datetime(2027, 1, 10, tzinfo=UTC).timestamp())
    assert (hold.held, hold.remaining_usd) == (Charge(usd=0.4, tokens=10), None)


def test_a_transaction_refused_by_the_quota_names_the_user(table: Any) -> None:
    user = quota(table)
    held(user, 0.9)
    transaction = Transaction()
    user.hold_into(transaction, "u", Charge(usd=0.2, tokens=0))
    with pytest.raises(UserQuotaExceededError) as refused:
        transaction.commit(table.meta.client)
    assert str(refused.value).startswith("user 'u': ")
    assert (refused.value.used, refused.value.needed) == ("0.9 USD", "0.200000 USD")


def test_a_user_without_an_allowance_adds_nothing_to_a_transaction(table: Any) -> None:
    transaction = Transaction()
    assert quota(table, usd=None).hold_into(transaction, "u", Charge(usd=0.2, tokens=0)) is None
    assert len(transaction) == 0


class ConflictOnce:
    """A client whose first transaction is cancelled by another write in flight on the quota item."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.attempts = 0

    def transact_write_items(self, **request: Any) -> Any:
        self.attempts += 1
        if self.attempts == 1:
            error = {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}}
            reasons = [{"Code": "TransactionConflict"} for _ in request["TransactItems"]]
            raise ClientError({**error, "CancellationReasons": reasons}, "TransactWriteItems")
        return self.client.transact_write_items(**request)


def test_a_settlement_in_a_transaction_rides_out_a_conflicting_write(table: Any) -> None:
    # Given a settlement in a transaction, and another call of the same user writing the item at that moment
    user = quota(table)
    hold = held(user, 0.4)
    transaction = Transaction()
    user.settle_into(transaction, hold, SPENT)
    client = ConflictOnce(table.meta.client)

    # When it is committed, Then it is tried again and written once
    transaction.commit(client)
    assert client.attempts == 2
    assert (day(table)["spent_usd"], day(table)["calls"]) == (Decimal("0.3"), 1)


def test_a_top_up_writes_only_what_it_adds(table: Any) -> None:
    # Given a hold of $0.4 and 100 tokens
    user = quota(table, tokens=1000)
    hold = held(user, 0.4, tokens=100)

    # When it is topped up to what it holds already, or to more dollars but fewer tokens
    assert user.top_up(hold, Charge(usd=0.4, tokens=100)) == hold
    more_usd = user.top_up(hold, Charge(usd=0.5, tokens=50))
    # And then by exactly one token
    one_more = user.top_up(hold, Charge(usd=0.4, tokens=101))

    # Then each adds only the difference, and keeps what was left when the call was first held
    assert more_usd == QuotaHold(
        "u", hold.day, hold.allowance, Charge(usd=0.5, tokens=100), hold.remaining_usd
    )
    assert one_more is not None
    assert one_more.held == Charge(usd=0.4, tokens=101)
    assert (day(table)["committed_usd"], day(table)["committed_tokens"]) == (Decimal("0.5"), 101)
    assert hold.remaining_usd == pytest.approx(0.6)


def test_settlements_seen_by_this_container_count_toward_its_warnings(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a container that settled $0.3 on its own request, then $0.3 in a transaction ($1 allowance)
    user = quota(table)
    user.settle(held(user, 0.3), Charge(usd=0.3, tokens=0))
    assert warnings(capsys) == 0
    settled_in_transaction(user, table, committed_in_transaction(user, table, 0.3), Charge(usd=0.3, tokens=0))

    # Then its view of the day (0.6) reports 50 % once
    assert warnings(capsys) == 1
    assert day(table)["warned_levels"] == {"0.5"}


def test_a_new_day_seen_only_through_the_cached_allowance_starts_from_nothing(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a container that read the user's allowance one second before midnight (trusted for 60 s)
    clock = Clock(datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC))
    user = quota(table, clock=clock)
    user.allowance("u")

    # When, after midnight, the user spends $0.1 then $0.5 in transactions
    clock.now += timedelta(seconds=2)
    settled_in_transaction(user, table, committed_in_transaction(user, table, 0.1), Charge(usd=0.1, tokens=0))
    assert warnings(capsys) == 0
    settled_in_transaction(user, table, committed_in_transaction(user, table, 0.5), Charge(usd=0.5, tokens=0))

    # Then the new day's 50 % is reported when it is reached, not before and not never
    assert warnings(capsys) == 1
    assert day(table, "2026-12-07")["warned_levels"] == {"0.5"}


def test_a_hold_in_a_transaction_rides_out_a_conflicting_write(table: Any) -> None:
    user = quota(table)
    transaction = Transaction()
    user.hold_into(transaction, "u", Charge(usd=0.4, tokens=10))
    client = ConflictOnce(table.meta.client)

    transaction.commit(client)

    assert client.attempts == 2
    assert day(table)["committed_usd"] == Decimal("0.4")


@pytest.mark.parametrize(
    ("worst", "limit", "nothing", "used"),
    [
        (Charge(usd=1.5, tokens=10), "1 USD", "0 USD", "0.3 USD"),
        (Charge(usd=0.5, tokens=1001), "1000 tokens", "0 tokens", "100 tokens"),
    ],
    ids=["dollars", "tokens"],
)
def test_a_worst_case_larger_than_the_whole_allowance_is_refused_before_any_write(
    table: Any, worst: Charge, limit: str, nothing: str, used: str
) -> None:
    # Given a new user (no usage item yet: a conditional write would find nothing to compare) …
    user = quota(table, usd=1.0, tokens=1000)
    with pytest.raises(UserQuotaExceededError) as refused:
        user.hold("u", worst)
    # Then a call larger than the whole allowance in one unit is refused in that unit, and nothing is written
    assert (refused.value.limit, refused.value.used) == (limit, nothing)
    assert day(table) == {}

    # … and a user who already used some of the day is told how much
    held(user, 0.3, tokens=100)
    with pytest.raises(UserQuotaExceededError) as refused:
        user.hold("u", worst)
    assert (refused.value.limit, refused.value.used) == (limit, used)
    assert str(refused.value).startswith("user 'u': ")


def test_a_worst_case_of_exactly_the_whole_allowance_fits(table: Any) -> None:
    user = quota(table, usd=1.0, tokens=1000)
    assert held(user, 1.0, tokens=1000).held == Charge(usd=1.0, tokens=1000)
    assert (day(table)["committed_usd"], day(table)["committed_tokens"]) == (Decimal("1"), 1000)


def test_the_allowance_and_the_day_are_read_consistently_and_throttled_keys_one_by_one(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a user with an override, whose day is already at $1.2 with 50 % reported
    table.put_item(Item={"user_id": "u", "day": "allowance", "daily_usd": Decimal("2"), "daily_tokens": 900})
    table.put_item(
        Item={"user_id": "u", "day": "2026-12-06", "spent_usd": Decimal("1.2"), "warned_levels": {"0.5"}}
    )
    # And DynamoDB answering the batch read with every key unprocessed (throttled), as it may
    requests: list[tuple[str, dict[str, Any]]] = []
    events = table.meta.client.meta.events

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        requests.append((model.name, dict(params)))

    def throttle(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "BatchGetItem":
            keys = [{"user_id": "u", "day": "allowance"}, {"user_id": "u", "day": "2026-12-06"}]
            parsed["Responses"] = {"quota": []}
            parsed["UnprocessedKeys"] = {"quota": {"Keys": keys}}

    events.register("provide-client-params.dynamodb", record)
    events.register("after-call.dynamodb", throttle)

    # When the user's allowance is read
    user = quota(table)
    allowance = user.allowance("u")

    # Then the override is found, every read is strongly consistent, and the day's figures are known:
    assert allowance == Allowance(usd=2.0, tokens=900)
    assert [name for name, _ in requests] == ["BatchGetItem", "GetItem", "GetItem"]
    assert requests[0][1]["RequestItems"]["quota"]["ConsistentRead"] is True
    assert all(params["ConsistentRead"] is True for _, params in requests[1:])
    # a settlement of $0.5 (to $1.7 of $2) reports 80 %, and not 50 % again
    events.unregister("after-call.dynamodb", throttle)
    user.settle(held(user, 0.5), Charge(usd=0.5, tokens=0))
    assert warnings(capsys) == 1
    assert day(table)["warned_levels"] == {"0.5", "0.8"}


def test_a_token_allowance_holds_up_to_its_last_token_and_not_one_more(table: Any) -> None:
    user = quota(table, usd=None, tokens=1000)
    held(user, 0.0, tokens=600)
    with pytest.raises(UserQuotaExceededError) as refused:
        user.hold("u", Charge(usd=0.0, tokens=401))
    assert (refused.value.used, refused.value.needed) == ("600 tokens", "401 tokens")
    assert str(refused.value).startswith("user 'u': ")
    held(user, 0.0, tokens=400)
    assert day(table)["committed_tokens"] == 1000


@pytest.mark.parametrize(("left", "retry_after"), [(0.0, 1), (0.5, 1), (1.5, 2), (3600.0, 3600)])
def test_retry_after_is_the_whole_seconds_to_midnight_and_never_zero(left: float, retry_after: int) -> None:
    midnight = datetime(2026, 12, 7, tzinfo=UTC)
    error = UserQuotaExceededError(
        user_id="u",
        limit="1 USD",
        used="1 USD",
        needed="0.1 USD",
        remaining_usd=0.0,
        resets_at=midnight,
        now=midnight - timedelta(seconds=left),
    )
    assert error.retry_after_seconds == retry_after


def test_a_call_that_fills_the_dollars_exactly_but_not_the_tokens_is_refused_in_tokens(table: Any) -> None:
    user = quota(table, usd=1.0, tokens=1000)
    held(user, 0.7, tokens=900)
    with pytest.raises(UserQuotaExceededError) as refused:
        user.hold("u", Charge(usd=0.3, tokens=200))
    assert (refused.value.limit, refused.value.used, refused.value.needed) == (
        "1000 tokens",
        "900 tokens",
        "200 tokens",
    )


def test_a_container_tries_each_warning_level_once_and_only_once_reached(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a container's quota, with every warning write it sends recorded
    writes: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        if "warned_levels" in params.get("UpdateExpression", ""):
            writes.append(params["ExpressionAttributeValues"][":one"])

    table.meta.client.meta.events.register("provide-client-params.dynamodb.UpdateItem", record)
    user = quota(table)

    # When the user's day goes to $0.3 (no level), $0.6 (50 %), then $0.7 and $0.9 (80 %)
    for usd in (0.3, 0.3, 0.1, 0.2):
        user.settle(held(user, usd), Charge(usd=usd, tokens=0))

    # Then each level was written once, when reached, and reported once
    assert writes == ["0.5", "0.8"]
    assert warnings(capsys) == 2


def test_a_level_another_container_reported_does_not_stop_the_next_one(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two containers that both read the user's day while it was empty ($1 allowance)
    a, b = quota(table), quota(table)
    a_hold, b_hold = held(a, 0.6), held(b, 0.3)
    # When A takes the day to $0.6 (A reports 50 %), then B to $0.9
    a.settle(a_hold, Charge(usd=0.6, tokens=0))
    assert warnings(capsys) == 1
    b.settle(b_hold, Charge(usd=0.3, tokens=0))

    # Then B, finding 50 % reported already, still reports 80 %
    assert warnings(capsys) == 1
    assert day(table)["warned_levels"] == {"0.5", "0.8"}


def test_a_hold_is_rounded_up_to_the_nano_dollar(table: Any) -> None:
    held(quota(table), 0.1234567891)
    assert day(table)["committed_usd"] == Decimal("0.12345679")


def test_an_override_is_trusted_for_its_max_age_and_read_again_once_it_is_over(table: Any) -> None:
    class Monotonic:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Monotonic()
    user = UserQuota(table=table, default=Allowance(usd=1.0, tokens=None), now=Clock(NOON), monotonic=clock)
    table.put_item(Item={"user_id": "u", "day": "allowance", "daily_usd": Decimal("2")})
    assert user.allowance("u").usd == 2.0

    table.put_item(Item={"user_id": "u", "day": "allowance", "daily_usd": Decimal("3")})
    clock.now = 59.9
    assert user.allowance("u").usd == 2.0
    clock.now = 60.0
    assert user.allowance("u").usd == 3.0
