"""Per-user daily quotas end to end: the real SDK against the fake Claude, the quota table on moto, the guards
built by `get_call_guards()` from `KIT_*` settings as in a deployed function."""

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
from claude_kit.guardrails import UserQuotaExceededError, get_call_guards
from claude_kit.retry import RetryPolicy
from claude_kit.service import ClaudeService
from claude_kit.settings import get_settings
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer, Fault
from local.guardrails import create_quota_table

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
            clients=get_clients(), settings=settings, guards=get_call_guards(), retry_policy=policy
        )

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
        # Small caps make the per-call reservation (a full context in, the cap out) small too.
        "KIT_CONTEXT_MAX_TOKENS": "400",
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


def test_concurrent_calls_never_overspend_the_allowance(quotas: Quotas, atomic_updates: None) -> None:
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

    # Then the day's spend never went past the allowance by more than one call, and every thread was refused
    usage = quotas.today("user-busy")
    spent = float(usage["spent_usd"])
    assert spent == pytest.approx(sum(costs), abs=1e-5)
    assert spent <= ALLOWANCE_USD + max(costs)
    assert len(refusals) == 12
    # And only allowed calls reached Claude, with no reservation left behind
    assert len(quotas.fake.message_calls()) == len(costs) == int(usage["calls"])
    assert Decimal(usage["committed_usd"]) == Decimal(usage["spent_usd"])


def test_a_call_checked_twice_reserves_once(quotas: Quotas) -> None:
    # Given a caller that checks the guards itself before the service checks them again (the chat API does,
    # to refuse with a JSON error before it starts streaming)
    service = quotas.service()
    ctx = CallContext(route="chat", user_id="user-careful")
    for guard in get_call_guards():
        guard.check(ctx)
    # When the call runs
    result = service.create(REQUEST, ctx)
    # Then only the call's actual cost stays committed: one reservation was taken, and settled
    usage = quotas.today("user-careful")
    assert float(usage["committed_usd"]) == pytest.approx(result.cost_usd)
    assert Decimal(usage["committed_usd"]) == Decimal(usage["spent_usd"])


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


def test_a_failed_call_gives_its_reservation_back(quotas: Quotas) -> None:
    # Given Claude failing every attempt
    service = quotas.service()
    ctx = CallContext(route="chat", user_id="user-unlucky")
    quotas.fake.inject(*[Fault.api_error() for _ in range(20)])
    # When a call fails
    with pytest.raises(ClaudeError):
        service.create(REQUEST, ctx)
    # Then nothing stays reserved or spent
    usage = quotas.today("user-unlucky")
    assert Decimal(usage["committed_usd"]) == Decimal(0)
    assert Decimal(usage["spent_usd"]) == Decimal(0)


def test_calls_without_a_user_are_not_limited(quotas: Quotas) -> None:
    # Given batch work, which carries no user id
    service = quotas.service()
    # When it calls
    result = service.create(REQUEST, CallContext(route="batch:default"))
    # Then it goes through and nothing is written to the quota table
    assert result.text
    assert quotas.table.scan()["Items"] == []
