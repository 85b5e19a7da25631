"""The runtime core end to end: the real SDK over 127.0.0.1 to the fake Claude, the key from moto.

The service is built by the production factories from `KIT_*` settings; only its sleeps are replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters import constants as parameter_constants
from moto import mock_aws

from claude_kit.calls import CallContext, ClaudeRequest, StreamEnd, TextDelta
from claude_kit.clients import get_clients
from claude_kit.errors import ClaudeBusyError, ClaudeStreamInterruptedError
from claude_kit.retry import RetryPolicy
from claude_kit.service import ClaudeService
from claude_kit.settings import get_settings
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer, Fault

SECRET_NAME = "claude-kit/test/anthropic-api-key"
CTX = CallContext(route="integration", user_id="user-7", request_id="caller-req-7")
LONG_SYSTEM = "You answer questions about the kit's runbook with care and precision. " * 150


@dataclass
class Kit:
    fake: FakeClaudeServer
    secrets: object
    secret_reads: list[str]
    sleeps: list[float] = field(default_factory=list)

    def service(self) -> ClaudeService:
        """Built like `get_claude_service()`, with sleeps recorded instead of slept."""

        async def async_sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        settings = get_settings()
        policy = RetryPolicy.from_settings(settings, sleep=self.sleeps.append, async_sleep=async_sleep)
        return ClaudeService(clients=get_clients(), settings=settings, retry_policy=policy)


@pytest.fixture
def kit(fake_claude: FakeClaudeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kit]:
    monkeypatch.setenv("KIT_ENV_NAME", "test")
    monkeypatch.setenv("KIT_API_KEY_SECRET_NAME", SECRET_NAME)
    monkeypatch.setenv("KIT_CLAUDE_BASE_URL", fake_claude.base_url)
    monkeypatch.setenv("KIT_FALLBACK_MODEL", "claude-haiku-5-5")
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name=SECRET_NAME, SecretString=PLACEHOLDER_API_KEY)
        reads: list[str] = []
        client.meta.events.register(
            "provide-client-params.secrets-manager.GetSecretValue",
            lambda params, **_: reads.append(params["SecretId"]),
        )
        # The provider `parameters.get_secret` uses, with a client whose GetSecretValue calls are counted.
        monkeypatch.setitem(
            parameter_constants.DEFAULT_PROVIDERS, "secrets", SecretsProvider(boto3_client=client)
        )
        yield Kit(fake=fake_claude, secrets=client, secret_reads=reads)


def ask(text: str = "What does the spend guard do?", **options) -> ClaudeRequest:
    return ClaudeRequest(
        model=options.pop("model", "claude-sonnet-5-5"),
        max_tokens=options.pop("max_tokens", 300),
        messages=[{"role": "user", "content": text}],
        **options,
    )


def stream_all(service: ClaudeService, request: ClaudeRequest) -> list[TextDelta | StreamEnd]:
    async def run() -> list[TextDelta | StreamEnd]:
        try:
            async with contextlib.aclosing(service.stream(request, CTX)) as events:
                return [event async for event in events]
        finally:
            await service.aclose()

    return asyncio.run(run())


def text_of(event: TextDelta | StreamEnd) -> str:
    assert isinstance(event, TextDelta)
    return event.text


def emf_blobs(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    return [line for line in lines if "Calls" in line]


def test_a_rate_limit_is_waited_out_as_the_server_asks_then_succeeds(kit):
    kit.fake.inject(Fault.rate_limited(retry_after=1))

    result = kit.service().create(ask(), CTX)

    assert result.text
    assert result.retries == 1
    assert kit.sleeps == [1.0]
    assert len(kit.fake.message_calls()) == 2


def test_overloaded_twice_without_fallback_is_a_friendly_busy_error(kit, monkeypatch):
    monkeypatch.delenv("KIT_FALLBACK_MODEL")
    kit.fake.inject(Fault.overloaded(), Fault.overloaded())

    with pytest.raises(ClaudeBusyError) as raised:
        kit.service().create(ask(), CTX)

    assert raised.value.user_message == "Claude is busy, please try again shortly"
    assert raised.value.http_status == 503
    assert len(kit.fake.message_calls()) == 2


def test_the_fallback_model_answers_when_the_primary_stays_overloaded(kit):
    kit.fake.inject(Fault.overloaded(), Fault.overloaded())

    result = kit.service().create(ask(), CTX)

    assert (result.model, result.fallback_used) == ("claude-haiku-5-5", True)
    assert [call.body["model"] for call in kit.fake.message_calls()] == [
        "claude-sonnet-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    ]


def test_a_rotated_key_heals_with_exactly_one_extra_secret_read(kit):
    # Given a container that has already called Claude with the current key
    service = kit.service()
    service.create(ask(), CTX)
    assert kit.secret_reads == [SECRET_NAME]

    # When the key is rotated in the API and in the secret
    rotated = "sk-ant-placeholder-rotated"
    kit.fake.set_api_key(rotated)
    kit.secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=rotated)
    result = service.create(ask("And now?"), CTX)

    # Then the 401 made the kit re-read the secret once, and the call succeeded with the new key
    assert result.text
    assert kit.secret_reads == [SECRET_NAME, SECRET_NAME]
    service.create(ask("Still there?"), CTX)
    assert len(kit.secret_reads) == 2


def test_a_stream_cut_after_text_raises_typed_with_the_partial_usage(kit):
    kit.fake.inject(Fault.cut_stream(after_events=6))

    with pytest.raises(ClaudeStreamInterruptedError) as raised:
        stream_all(kit.service(), ask())

    partial = raised.value.partial
    assert partial is not None
    assert partial.partial is True
    assert partial.text
    assert partial.usage.input_tokens > 0
    assert partial.cost_usd is not None
    assert partial.cost_usd > 0
    assert raised.value.error_type in {"connection_error", "timeout_error"}
    assert len(kit.fake.message_calls()) == 1


def test_a_mid_stream_overload_before_any_text_is_retried(kit):
    kit.fake.inject(Fault.stream_error(after_events=1, error_type="overloaded_error"))

    events = stream_all(kit.service(), ask())

    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.result.retries == 1
    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == end.result.text


def test_a_client_that_goes_away_closes_the_upstream_stream(kit):
    kit.fake.configure(text="word " * 400, tokens_per_second=200)

    service = kit.service()

    async def take_two() -> list[str]:
        try:
            async with contextlib.aclosing(service.stream(ask(), CTX)) as events:
                return [text_of(await anext(events)), text_of(await anext(events))]
        finally:
            await service.aclose()

    taken = asyncio.run(take_two())

    assert len(taken) == 2
    assert kit.fake.wait_for_disconnects(1)


def test_each_stream_emits_one_emf_blob_checked_field_by_field(kit, capsys):
    capsys.readouterr()

    events = stream_all(kit.service(), ask())

    end = events[-1]
    assert isinstance(end, StreamEnd)
    result = end.result
    (blob,) = emf_blobs(capsys)
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["Environment", "Model", "Route"],
        ["Environment"],
    ]
    assert (blob["Environment"], blob["Model"], blob["Route"]) == ("test", "claude-sonnet-5-5", "integration")
    assert blob["Calls"] == [1.0]
    assert blob["Errors"] == [0.0]
    assert blob["InputTokens"] == [float(result.usage.input_tokens)]
    assert blob["OutputTokens"] == [float(result.usage.output_tokens)]
    assert blob["CostUSD"] == [pytest.approx(result.cost_usd)]
    assert blob["LatencyMs"] == [pytest.approx(result.latency_ms)]
    assert blob["TimeToFirstTokenMs"] == [pytest.approx(result.ttft_ms)]
    assert blob["RateLimitRequestsRemaining"][0] >= 0
    assert blob["RateLimitTokensRemaining"][0] >= 0
    assert (blob["user_id"], blob["request_id"], blob["message_id"]) == (
        "user-7",
        "caller-req-7",
        result.message_id,
    )
    assert blob["api_request_id"] == result.request_id


def test_a_long_system_prompt_is_cached_and_read_back_on_the_next_call(kit):
    service = kit.service()

    first = service.create(ask(system=LONG_SYSTEM), CTX)
    second = service.create(ask(system=LONG_SYSTEM), CTX)

    assert first.usage.cache_creation_input_tokens > 0
    assert second.usage.cache_read_input_tokens > 0
    assert second.cost_usd < first.cost_usd


def test_count_tokens_asks_the_api(kit):
    count = kit.service().count_tokens(ask(system=LONG_SYSTEM))

    assert count > 1000
