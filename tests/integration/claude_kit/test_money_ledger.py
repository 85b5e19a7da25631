"""The kit's money figures against the ground truth: what the fake Claude itself billed.

A mixed workload (plain calls, overloaded-then-success, streams failing after `message_start`, cut streams,
a client leaving mid-stream, a long cached system prompt sent twice, extended thinking cut mid-way, a whole
message timing out) runs through the real service, SDK and sockets. Every token the fake billed for a
complete response must be in the kit's records, exactly; outputs the kit had to estimate (cuts, disconnects)
and attempts it cannot know about (timeouts) are reported apart, never dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass, field

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters import constants as parameter_constants
from moto import mock_aws

from claude_kit.calls import CallContext, ClaudeRequest, TextDelta
from claude_kit.clients import get_clients
from claude_kit.errors import ClaudeError
from claude_kit.pricing import load_price_table
from claude_kit.retry import RetryPolicy
from claude_kit.service import ClaudeService
from claude_kit.settings import get_settings
from claude_kit.telemetry import CallRecord
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer, Fault
from tests.fixtures.ledger import billed_cost

SECRET_NAME = "claude-kit/test/anthropic-api-key"
LONG_SYSTEM = "You answer questions about the kit's runbook with care and precision. " * 150
PRICES = load_price_table()
THINKING = {"type": "enabled", "budget_tokens": 3000}


@dataclass
class Workload:
    fake: FakeClaudeServer
    records: list[CallRecord] = field(default_factory=list)

    def service(self) -> ClaudeService:
        async def no_sleep(_: float) -> None:
            return None

        settings = get_settings()
        policy = RetryPolicy.from_settings(settings, sleep=lambda _: None, async_sleep=no_sleep)
        return ClaudeService(
            clients=get_clients(), settings=settings, retry_policy=policy, emit=self.records.append
        )


@pytest.fixture
def workload(fake_claude: FakeClaudeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workload]:
    monkeypatch.setenv("KIT_ENV_NAME", "test")
    monkeypatch.setenv("KIT_API_KEY_SECRET_NAME", SECRET_NAME)
    monkeypatch.setenv("KIT_CLAUDE_BASE_URL", fake_claude.base_url)
    monkeypatch.setenv("KIT_FALLBACK_MODEL", "claude-haiku-5-5")
    monkeypatch.setenv("KIT_MAX_TOKENS_CAP", "8000")
    monkeypatch.setenv("KIT_READ_TIMEOUT_SECONDS", "0.5")
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name=SECRET_NAME, SecretString=PLACEHOLDER_API_KEY)
        monkeypatch.setitem(
            parameter_constants.DEFAULT_PROVIDERS, "secrets", SecretsProvider(boto3_client=client)
        )
        yield Workload(fake=fake_claude)


def ask(text: str, *, max_tokens: int = 300, system: str | None = None, **params: object) -> ClaudeRequest:
    return ClaudeRequest(
        model="claude-sonnet-5-5",
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": text}],
        system=system,
        params=dict(params),
    )


def ctx() -> CallContext:
    return CallContext(route="ledger", user_id="user-ledger")


async def stream(service: ClaudeService, request: ClaudeRequest, *, leave_after: int | None = None) -> None:
    """Consume a stream; with `leave_after`, close it after that many deltas (a client going away)."""
    received = 0
    async with aclosing(service.stream(request, ctx())) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                received += 1
                if leave_after is not None and received >= leave_after:
                    return


def run_workload(workload: Workload) -> None:
    service = workload.service()
    fake = workload.fake

    async def streams() -> None:
        await stream(service, ask("stream one"))
        await stream(service, ask("stream two"))
        # message_start, then an overloaded error event before any text: billed input, then retried
        fake.inject(Fault.stream_error(after_events=2))
        await stream(service, ask("stream failing before text"))
        # cut after message_start and the block start: billed, retried
        fake.inject(Fault.cut_stream(after_events=2))
        await stream(service, ask("stream cut before text"))
        # a cut after text: the answer is interrupted, its partial usage estimated
        fake.inject(Fault.cut_stream(after_events=10))
        with pytest.raises(ClaudeError):
            await stream(service, ask("stream cut after text"))
        # a client that reads three deltas of a paced stream, then leaves
        fake.inject(Fault.slow_stream(tokens_per_second=50))
        await stream(service, ask("a client that leaves"), leave_after=3)
        # extended thinking: complete, then cut in the middle of its thinking
        await stream(service, ask("think first", max_tokens=6000, thinking=THINKING))
        fake.configure(thinking_tokens=2000)
        fake.inject(Fault.cut_stream(after_events=1003))
        await stream(service, ask("think at length", max_tokens=6000, thinking=THINKING))
        await service.aclose()

    service.create(ask("plain one"), ctx())
    service.create(ask("plain two"), ctx())
    fake.inject(Fault.overloaded())
    service.create(ask("overloaded, then fine"), ctx())
    service.create(ask("cache me", system=LONG_SYSTEM), ctx())
    service.create(ask("cache me again", system=LONG_SYSTEM), ctx())
    asyncio.run(streams())
    # a whole message that takes longer than the kit waits: maybe billed, the kit cannot know
    fake.inject(Fault.stall(seconds=3))
    with pytest.raises(ClaudeError):
        service.create(ask("too slow", max_tokens=10), ctx())


def test_the_kits_records_add_up_to_what_claude_billed(workload: Workload) -> None:
    # When the mixed workload runs
    run_workload(workload)
    fake, records = workload.fake, workload.records
    # the fake finishes billing a stream as it notices its client has gone
    assert fake.wait_for_disconnects(2)
    ledger = fake.ledger()
    answered = [e for e in ledger if e.outcome != "abandoned"]
    abandoned = [e for e in ledger if e.outcome == "abandoned"]

    # Then the input side (input, cache writes, cache reads) of every billed attempt is in the records exactly
    def kit(attribute: str) -> int:
        return sum(getattr(r.usage, attribute) for r in records)

    def billed(attribute: str) -> int:
        return sum(getattr(e, attribute) for e in answered)

    for attribute in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
        assert kit(attribute) == billed(attribute), attribute
    assert kit("cache_creation_1h_input_tokens") == billed("cache_creation_1h_input_tokens")
    assert billed("cache_read_input_tokens") > 0  # the long system prompt was read from the cache

    # And the output the API reported is exact; the output of cut streams is estimated and reported apart
    reported = sum(r.usage.output_tokens - r.estimated_output_tokens for r in records)
    estimated = sum(r.estimated_output_tokens for r in records)
    assert reported == sum(e.output_tokens for e in answered if e.outcome == "complete")
    cut_short = [e for e in answered if e.outcome != "complete"]
    assert {e.outcome for e in cut_short} == {"cut", "error_event", "client_gone"}
    billed_short = sum(e.output_tokens for e in cut_short)
    # thinking counted: 1,000 thinking tokens cut mid-way are estimated as hundreds, not as 1
    assert billed_short / 2 <= estimated <= billed_short * 3

    # And every billed attempt is counted, across retries and the fallback
    assert sum(r.billed_attempts for r in records) == len(answered)

    # And the timed-out whole message is reported as possibly billed, at no less than what it really cost
    [timed_out] = [r for r in records if r.ambiguous_attempts]
    assert timed_out.ambiguous_attempts == len(abandoned) == 1
    assert timed_out.possibly_billed_usd >= billed_cost(abandoned) > 0

    # And the cost equals the ledger's once the estimated outputs are priced apart (all at the primary's rate)
    output_rate = PRICES.models["claude-sonnet-5-5"].output / 1e6
    kit_cost = sum(r.cost_usd or 0.0 for r in records)
    assert {r.model for r in records} == {"claude-sonnet-5-5"}
    assert kit_cost - estimated * output_rate == pytest.approx(
        billed_cost(answered) - billed_short * output_rate, abs=1e-9
    )
