"""The chat API in the local stack: its sessions table on moto, and the ASGI app under uvicorn on 127.0.0.1.

Mirrors `infra/constructs/chat_api.py`: the table has the construct's keys and TTL attribute, and the app gets
the environment variables the construct gives the Lambda function, plus local mode (the `x-kit-user-id` header
stands in for API Gateway's authorizer).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from claude_kit import contract
from claude_kit.contract import Env
from infra.function_environment import chat_environment
from local.context import create_table
from local.serving import BackgroundServer

if TYPE_CHECKING:
    from local.context import LocalContext


def create_sessions_table(dynamodb: Any, name: str = contract.LOCAL_SESSIONS_TABLE) -> None:
    create_table(dynamodb, name, contract.SESSIONS_TABLE)


def provision_chat(context: LocalContext) -> Mapping[str, str]:
    """The sessions table, and the chat settings the construct sets (limits, CORS, the server prompt). The
    chat page and the API docs are always on here, whatever the environment deploys: they are how a developer
    tries the API."""
    create_sessions_table(context.client("dynamodb"))
    return {
        **chat_environment(context.config, sessions_table=contract.LOCAL_SESSIONS_TABLE),
        Env.CHAT_LOCAL_MODE: "true",
        Env.CHAT_WEB_PAGE: "true",
        Env.CHAT_API_DOCS: "true",
    }


class ChatService:
    """`create_app()` under uvicorn on 127.0.0.1, with its lifespan, as `run.sh` serves it in Lambda."""

    name = "chat API"

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self._server: BackgroundServer | None = None

    def start(self, env: Mapping[str, str]) -> str:
        """Serve on a free port (or the one asked for); returns the URL.

        The app reads its settings from the environment when it is created, as in Lambda; per request, the
        clients and the table name come from os.environ, where the stack (or a test) puts `env`.
        """
        from chat_api.app import create_app

        with patch.dict(os.environ, env):
            app = create_app()
        self._server = BackgroundServer(app, name="chat-api", port=self._port, lifespan="on")
        return self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
