"""Per-user daily quotas end to end: the real SDK against the fake Claude, the quota table on moto, the gate
built by `get_spend_gate()` from `KIT_*` settings as in a deployed function. The fake's ledger of what it
billed is the ground truth for what was spent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from claude_kit.calls import CallContext, ClaudeRequest
from claude_kit.clients import get_clients
from claude_kit.errors import ClaudeError, QuotaExceededError
from claude_kit.reservation import get_spend_gate
from claude_kit.retry import RetryPolicy
from claude_kit.service import ClaudeService
from claude_kit.settings import get_settings
from claude_kit.user_quota import REMAINING_HEADER, UserQuotaExceededError
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer, Fault
from local.guardrails import create_quota_table
from tests.fixtures.ledger import billed_cost

TABLE = "claude-kit-test-user-quota"
SECRET = "/claude-kit/test/anthropic-api-key"
ALLOWANCE_USD = 0.004
REQUEST = ClaudeRequest(
    model="claude-sonnet-5-5", max_tokens=50, messages=[{"role": "user", "content": "Summarise the runbook."}]
)


@dataclass
class Quotas:
    table: Any
    fake: FakeClaudeServer

    def service(self) -> ClaudeService:
        """Built like `get_claude_service()`, retry sleeps skipped."""

        async def no_async_sleep(_: float) -> None:
            return None

        settings = get_settings()
        policy = RetryPolicy.from_settings(settings, sleep=lambda _: None, async_sleep=no_async_sleep)
        return ClaudeService(
            clients=get_clients(), settings=settings, gate=get_spend_gate(), retry_policy=policy
        )

    def billed_usd(self) -> float:
        """What the fake billed, at the kit's prices: the ground truth for `spent_usd`."""
        return billed_cost(self.fake.ledger())

    def today(self, user_id: str) -> dict[str, Any]:
        key = {"user_id": user_id, "day": datetime.now(UTC).date().isoformat()}
        return dict(self.table.get_item(Key=key).get("Item", {}))


@pytest.fixture
def quotas(fake_claude: FakeClaudeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Quotas]:
    for name, value in {
        "KIT_ENV_NAME": "test",
        "KIT_API_KEY_SECRET_NAME": SECRET,
        "KIT_CLAUDE_BASE_URL": fake_claude.base_url,
        "KIT_QUOTA_TABLE": TABLE,
        "KIT_USER_DAILY_USD_ALLOWANCE": str(ALLOWANCE_USD),
        "KIT_MAX_TOKENS_CAP": "50",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name=SECRET, SecretString=PLACEHOLDER_API_KEY)
        monkeypatch.setitem(DEFAULT_PROVIDERS, "secrets", SecretsProvider(boto3_client=secrets))
        create_quota_table(boto3.client("dynamodb"), TABLE)
        yield Quotas(table=boto3.resource("dynamodb").Table(TABLE), fake=fake_claude)


@pytest.fixture
def atomic_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each conditional update atomically per item; moto does not lock, so serialise it."""
    lock = threading.Lock()
    update_item = DynamoDBBackend.update_item

    def locked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return update_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", locked)


def test_concurrent_calls_never_spend_past_the_allowance(quotas: Quotas, atomic_updates: None) -> None:
    # Given one user with a 0.004 USD daily allowance and a service shared by 12 threads
    service = quotas.service()
    costs: list[float] = []
    refusals: list[QuotaExceededError] = []

    def keep_asking() -> None:
        for _ in range(20):
            try:
                result = service.create(REQUEST, CallContext(route="chat", user_id="user-busy"))
            except QuotaExceededError as exc:
                refusals.append(exc)
                return
            assert result.cost_usd is not None
            costs.append(result.cost_usd)

    # When they all call until refused
    with ThreadPoolExecutor(max_workers=12) as pool:
        for future in [pool.submit(keep_asking) for _ in range(12)]:
            future.result()

    # Then the day's spend equals what Claude billed, never passes the allowance, and every thread was refused
    usage = quotas.today("user-busy")
    spent = float(usage["spent_usd"])
    assert spent == pytest.approx(quotas.billed_usd(), abs=1e-9)
    assert spent == pytest.approx(sum(costs), abs=1e-9)
    assert spent <= ALLOWANCE_USD
    assert len(refusals) == 12
    # And only allowed calls reached Claude, with nothing held once they are done
    assert len(quotas.fake.message_calls()) == len(costs) == int(usage["calls"])
    assert Decimal(usage["committed_usd"]) == Decimal(usage["spent_usd"])


@pytest.mark.parametrize("allowance", ["0", "0.0001"])
def test_an_allowance_below_one_calls_worst_case_refuses_it_before_anything_is_written(
    quotas: Quotas, allowance: str
) -> None:
    # Given a user whose override is $0, or less than the call's worst case (50 output tokens ≈ $0.0005)
    quotas.table.put_item(Item={"user_id": "user-small", "day": "allowance", "daily_usd": Decimal(allowance)})
    # When they call, five times
    for _ in range(5):
        with pytest.raises(UserQuotaExceededError) as refused:
            quotas.service().create(REQUEST, CallContext(route="chat", user_id="user-small"))
    # Then every call is refused, with the remaining allowance and Retry-After, nothing held, nothing billed
    assert refused.value.remaining_usd == pytest.approx(float(allowance))
    headers = refused.value.response_headers()
    assert 0 < int(headers["Retry-After"]) <= 86_400
    assert float(headers[REMAINING_HEADER]) == pytest.approx(float(allowance))
    assert quotas.today("user-small") == {}
    assert quotas.fake.message_calls() == []
    assert quotas.fake.ledger() == []


def test_over_quota_is_a_429_with_the_limit_and_the_reset_time(quotas: Quotas) -> None:
    # Given a user whose calls today already reached the allowance
    service = quotas.service()
    ctx = CallContext(route="chat", user_id="user-spent")
    quotas.table.put_item(
        Item={
            "user_id": "user-spent",
            "day": datetime.now(UTC).date().isoformat(),
            "committed_usd": Decimal(str(ALLOWANCE_USD)),
            "spent_usd": Decimal(str(ALLOWANCE_USD)),
        }
    )
    # When they call again
    with pytest.raises(UserQuotaExceededError) as refused:
        service.create(REQUEST, ctx)
    # Then the refusal is a 429 naming the limit, renewing at the next UTC midnight, and Claude saw nothing
    error = refused.value
    assert error.http_status == 429
    assert error.limit == "0.004 USD"
    assert error.remaining_usd == 0
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert error.resets_at == datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)
    assert quotas.fake.message_calls() == []


def test_a_users_override_replaces_the_default_allowance(quotas: Quotas) -> None:
    # Given a user whose override item raises the allowance, already past the default
    service = quotas.service()
    ctx = CallContext(route="chat", user_id="user-vip")
    quotas.table.put_item(Item={"user_id": "user-vip", "day": "allowance", "daily_usd": Decimal("1")})
    quotas.table.put_item(
        Item={
            "user_id": "user-vip",
            "day": datetime.now(UTC).date().isoformat(),
            "committed_usd": Decimal("0.5"),
            "spent_usd": Decimal("0.5"),
        }
    )
    # When they call
    result = service.create(REQUEST, ctx)
    # Then the call goes through and is added to their day
    assert result.text
    assert float(quotas.today("user-vip")["spent_usd"]) == pytest.approx(0.5 + (result.cost_usd or 0))


def test_a_daily_token_allowance_is_enforced_and_counted(quotas: Quotas, monkeypatch) -> None:
    # Given a token allowance only (USD unlimited) of 1,000 tokens
    monkeypatch.delenv("KIT_USER_DAILY_USD_ALLOWANCE")
    monkeypatch.setenv("KIT_USER_DAILY_TOKEN_ALLOWANCE", "1000")
    service = quotas.service()

    def ctx() -> CallContext:
        return CallContext(route="chat", user_id="user-tokens")

    # When they call until refused
    results = []

    def call_until_refused() -> None:
        for _ in range(100):
            results.append(service.create(REQUEST, ctx()))

    with pytest.raises(UserQuotaExceededError) as refused:
        call_until_refused()
    # Then the tokens counted are exactly the tokens billed, within the allowance, and the refusal says tokens
    usage = quotas.today("user-tokens")
    billed = sum(
        e.input_tokens + e.output_tokens + e.cache_creation_input_tokens + e.cache_read_input_tokens
        for e in quotas.fake.ledger()
    )
    assert int(usage["spent_tokens"]) == billed <= 1000
    assert int(usage["committed_tokens"]) == billed
    assert refused.value.limit == "1000 tokens"
    assert len(results) == int(usage["calls"]) > 1
    # And the usage item expires 35 days after its day
    day = datetime.fromisoformat(usage["day"]).replace(tzinfo=UTC)
    assert int(usage["expires_at"]) == int((day + timedelta(days=35)).timestamp())


def test_a_failed_call_gives_its_hold_back(quotas: Quotas) -> None:
    # Given Claude failing every attempt
    service = quotas.service()
    ctx = CallContext(route="chat", user_id="user-unlucky")
    quotas.fake.inject(*[Fault.api_error() for _ in range(20)])
    # When a call fails
    with pytest.raises(ClaudeError):
        service.create(REQUEST, ctx)
    # Then nothing stays held or spent
    usage = quotas.today("user-unlucky")
    assert Decimal(usage["committed_usd"]) == Decimal(0)
    assert Decimal(usage["spent_usd"]) == Decimal(0)


def test_an_unpriced_model_is_settled_at_its_hold_never_as_free(quotas: Quotas, monkeypatch) -> None:
    # Given a model the fake answers for but whose price is missing (its price overridden to the worst case
    # would hide the bug): the kit knows claude-sonnet-4-5 only through a price override we remove here
    monkeypatch.setenv("KIT_ALLOWED_MODELS", '["claude-sonnet-5-5"]')
    monkeypatch.setenv("KIT_PRICE_OVERRIDES", '{"claude-sonnet-5-5": {"input": 2.0}}')
    service = quotas.service()
    prices = service._prices  # the table the service settles with
    object.__setattr__(prices, "models", {k: v for k, v in prices.models.items() if k != "claude-sonnet-5-5"})
    ctx = CallContext(route="chat", user_id="user-unpriced")
    # When a call is made
    result = service.create(REQUEST, ctx)
    # Then its cost is unknown, and the quota keeps the whole hold (the dearest known price) as spent
    assert result.cost_usd is None
    usage = quotas.today("user-unpriced")
    assert Decimal(usage["spent_usd"]) == Decimal(usage["committed_usd"]) > 0
    assert int(usage["calls"]) == 1


def test_calls_without_a_user_are_not_limited(quotas: Quotas) -> None:
    # Given batch work, which carries no user id
    service = quotas.service()
    # When it calls
    result = service.create(REQUEST, CallContext(route="batch:default"))
    # Then it goes through and nothing is written to the quota table
    assert result.text
    assert quotas.table.scan()["Items"] == []
