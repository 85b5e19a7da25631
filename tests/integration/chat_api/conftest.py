"""The chat app in-process (Starlette's TestClient) over moto's in-process DynamoDB, with the real SDK talking
to the fake Claude on 127.0.0.1: the whole request path of one container, without uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from chat_api.app import create_app
from chat_api.conversation import Conversation
from chat_api.sessions import SessionStore
from chat_api.settings import ChatSettings
from claude_kit.clients import ClaudeClients
from claude_kit.service import ClaudeService
from claude_kit.settings import RuntimeSettings
from local.chat import create_sessions_table
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer

#: Builds a TestClient for the app with these chat settings (over the fixture's table and the fake);
#: `runtime=RuntimeSettings(...)` replaces the runtime settings.
ChatAppFactory = Callable[..., TestClient]


@pytest.fixture
def chat_app(fake_claude: FakeClaudeServer) -> Iterator[ChatAppFactory]:
    services: list[ClaudeService] = []
    clients: list[TestClient] = []
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_sessions_table(dynamodb.meta.client, "sessions")
        table = dynamodb.Table("sessions")

        def build(runtime: RuntimeSettings | None = None, **settings: Any) -> TestClient:
            runtime = runtime or RuntimeSettings(max_tokens_cap=1024)
            claude = ClaudeClients(api_key=lambda _force: PLACEHOLDER_API_KEY, base_url=fake_claude.base_url)
            service = ClaudeService(clients=claude, settings=runtime)
            conversation = Conversation(SessionStore(table, ttl_days=1), service, runtime)
            app = create_app(
                settings=ChatSettings(sessions_table="sessions", local_mode=True, **settings),
                runtime=runtime,
                conversation=lambda: conversation,
            )
            client = TestClient(app).__enter__()
            services.append(service)
            clients.append(client)
            return client

        build.table = table  # type: ignore[attr-defined]  # for tests that read what was stored
        yield build
        for client, service in zip(clients, services, strict=True):
            # The async client's connections belong to the app's event loop: close them there.
            client.portal.call(service.aclose)  # type: ignore[union-attr]
            client.__exit__(None, None, None)
