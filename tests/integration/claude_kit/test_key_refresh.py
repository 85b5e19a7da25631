"""A revoked key under load: the real SDK over 127.0.0.1 to the fake Claude, the key in moto's secret.

50 concurrent requests that all get a 401 must not each re-read the secret (a Secrets Manager storm, throttled
and billed): one refresh in flight per container, then a backoff while the secret still holds the refused key.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters import constants as parameter_constants
from moto import mock_aws

from claude_kit.calls import CallContext, ClaudeRequest
from claude_kit.clients import ClaudeClients, fetch_api_key
from claude_kit.errors import ClaudeAuthenticationError, ClaudeError
from claude_kit.retry import RetryPolicy
from claude_kit.service import ClaudeService
from claude_kit.settings import RuntimeSettings
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer

SECRET_NAME = "claude-kit/test/anthropic-api-key"
CTX = CallContext(route="integration", user_id="user-7", request_id="req-7")
REQUEST = ClaudeRequest(
    model="claude-sonnet-5-5", max_tokens=50, messages=[{"role": "user", "content": "Are you there?"}]
)
REQUESTS = 50


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Revoked:
    fake: FakeClaudeServer
    secrets: object
    reads: list[str]
    clock: Clock
    service: ClaudeService


@pytest.fixture
def revoked(fake_claude: FakeClaudeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Revoked]:
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # no key cached by an earlier test
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
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
        settings = RuntimeSettings(api_key_secret_name=SECRET_NAME, claude_base_url=fake_claude.base_url)
        clock = Clock()
        clients = ClaudeClients(
            api_key=partial(fetch_api_key, settings), base_url=fake_claude.base_url, clock=clock
        )
        policy = RetryPolicy.from_settings(settings, sleep=lambda _: None)
        service = ClaudeService(clients=clients, settings=settings, retry_policy=policy)
        yield Revoked(fake_claude, client, reads, clock, service)
        clients.sync_client().close()


def ask(service: ClaudeService) -> ClaudeError | None:
    try:
        service.create(REQUEST, CTX)
    except ClaudeError as exc:
        return exc
    return None


def test_fifty_requests_with_a_revoked_key_read_the_secret_at_most_twice(revoked: Revoked) -> None:
    # Given a container whose key works, then is revoked in the API while the secret still holds it
    assert ask(revoked.service) is None
    assert revoked.reads == [SECRET_NAME]
    revoked.fake.set_api_key("sk-ant-placeholder-replacement")

    # When 50 requests arrive at once (10 in flight at a time)
    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(lambda _: ask(revoked.service), range(REQUESTS)))

    # Then every one fails with the same clear error, and the secret was read at most twice in all
    assert all(isinstance(outcome, ClaudeAuthenticationError) for outcome in outcomes)
    assert {outcome.http_status for outcome in outcomes if outcome is not None} == {502}
    assert len(revoked.reads) <= 2
    # and each request cost Claude at most two refused calls (the call and its one retry after a refresh)
    assert len(revoked.fake.message_calls()) <= 1 + 2 * REQUESTS


def test_once_the_secret_holds_the_new_key_the_next_request_after_the_backoff_heals(revoked: Revoked) -> None:
    # Given a revoked key that has already been refused and re-read
    ask(revoked.service)
    replacement = "sk-ant-placeholder-replacement"
    revoked.fake.set_api_key(replacement)
    assert isinstance(ask(revoked.service), ClaudeAuthenticationError)
    reads_while_revoked = len(revoked.reads)

    # When the operator puts the new key in the secret, and a request arrives within the backoff, then after
    revoked.secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=replacement)  # type: ignore[attr-defined]
    within = ask(revoked.service)
    revoked.clock.now += 60
    after = ask(revoked.service)

    # Then the one within the backoff fails without a read, and the next one reads once and succeeds
    assert isinstance(within, ClaudeAuthenticationError)
    assert after is None
    assert len(revoked.reads) == reads_while_revoked + 1
