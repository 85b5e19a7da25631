"""The API key from Secrets Manager (moto) and the client settings the kit relies on."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import httpx2
import pytest
from moto import mock_aws

from claude_kit.clients import ClaudeClients, fetch_api_key
from claude_kit.errors import ClaudeAuthenticationError
from claude_kit.settings import RuntimeSettings
from tests.unit.claude_kit.api_double import ApiDouble

SECRET = "claude-kit/dev/anthropic-api-key"
SETTINGS = RuntimeSettings(api_key_secret_name=SECRET, claude_base_url="https://claude.test")


@pytest.fixture
def secrets() -> Iterator[object]:
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name=SECRET, SecretString="sk-ant-placeholder-first\n")
        yield client


def test_the_key_is_read_from_the_secret_and_cached(secrets):
    assert fetch_api_key(SETTINGS) == "sk-ant-placeholder-first"
    secrets.put_secret_value(SecretId=SECRET, SecretString="sk-ant-placeholder-second")

    assert fetch_api_key(SETTINGS) == "sk-ant-placeholder-first"  # within the cache TTL
    assert fetch_api_key(SETTINGS, force=True) == "sk-ant-placeholder-second"
    assert "sk-ant" not in "".join(os.environ.values())


def test_a_missing_secret_is_a_typed_error_without_the_key(secrets):
    settings = RuntimeSettings(api_key_secret_name="claude-kit/dev/absent")

    with pytest.raises(ClaudeAuthenticationError) as raised:
        fetch_api_key(settings)

    assert "claude-kit/dev/absent" in str(raised.value)


def test_no_secret_name_configured_is_a_typed_error():
    with pytest.raises(ClaudeAuthenticationError):
        fetch_api_key(RuntimeSettings())


def test_clients_are_built_once_with_no_sdk_retries_and_explicit_timeouts():
    fetched: list[bool] = []

    def key(force: bool) -> str:
        fetched.append(force)
        return "sk-ant-placeholder-test-key"

    clients = ClaudeClients(
        api_key=key,
        base_url="https://claude.test",
        read_timeout_seconds=60,
        stream_read_timeout_seconds=120,
        http_client=httpx2.Client(transport=httpx2.MockTransport(ApiDouble())),
        async_http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(ApiDouble())),
    )

    sync, async_ = clients.sync_client(), clients.async_client()

    assert clients.sync_client() is sync
    assert clients.async_client() is async_
    assert fetched == [False]
    assert (sync.max_retries, async_.max_retries) == (0, 0)
    assert isinstance(sync.timeout, httpx2.Timeout)
    assert isinstance(async_.timeout, httpx2.Timeout)
    assert (sync.timeout.read, sync.timeout.connect) == (60, 5)
    assert (async_.timeout.read, async_.timeout.connect) == (120, 5)
    assert str(sync.base_url).startswith("https://claude.test")


def test_nothing_is_fetched_or_imported_until_a_client_is_needed():
    fetched: list[bool] = []

    def key(force: bool) -> str:
        fetched.append(force)
        return "sk-ant-placeholder-test-key"

    ClaudeClients(api_key=key)

    assert fetched == []
