"""The app in-process (Starlette's TestClient, moto's in-process DynamoDB): guard refusals, the OpenAPI
document, the SnapStart hooks. Nothing here reaches Claude; the e2e tests cover the stream over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from chat_api import lifecycle
from chat_api.app import create_app
from chat_api.conversation import Conversation
from chat_api.sessions import SessionStore
from chat_api.settings import ChatSettings
from claude_kit.calls import CallContext
from claude_kit.clients import ClaudeClients, get_clients
from claude_kit.errors import ClaudeError, QuotaExceededError, SpendGuardClosedError
from claude_kit.reservation import Reservation
from claude_kit.service import ClaudeService
from claude_kit.settings import RuntimeSettings
from claude_kit.transaction import Transaction
from claude_kit.worst_case import Charge

USER = {"x-kit-user-id": "alice"}


class RefusingGate:
    """A spend gate that says no, remembering whom it was asked about."""

    def __init__(self, error: ClaudeError) -> None:
        self.error = error
        self.checked: list[CallContext] = []

    def reserve(
        self, ctx: CallContext, worst_attempt: Charge, *, transaction: Transaction | None = None
    ) -> Reservation:
        self.checked.append(ctx)
        raise self.error


def client_with(gate: RefusingGate, table: Any) -> TestClient:
    runtime = RuntimeSettings()
    # Never used: the gate refuses first. A closed port, so a call would fail loudly rather than escape.
    clients = ClaudeClients(
        api_key=lambda _force: "sk-ant-placeholder-test-key", base_url="http://127.0.0.1:9"
    )
    service = ClaudeService(clients=clients, settings=runtime, gate=gate)  # type: ignore[arg-type]
    conversation = Conversation(SessionStore(table, ttl_days=1), service, runtime)
    app = create_app(
        settings=ChatSettings(sessions_table="sessions", local_mode=True),
        runtime=runtime,
        conversation=lambda: conversation,
    )
    return TestClient(app)


@pytest.mark.parametrize(
    ("error", "status", "error_type"),
    [
        (SpendGuardClosedError("switch closed by the daily cost alarm"), 503, "spend_guard_closed"),
        (QuotaExceededError("alice used 5.00 of 5.00 USD today"), 429, "quota_exceeded"),
    ],
    ids=["spend-guard", "quota"],
)
def test_a_guard_refusal_is_a_json_error_before_anything_streams_or_is_stored(
    table: Any, error: ClaudeError, status: int, error_type: str
) -> None:
    # Given a spend gate that refuses the call
    guard = RefusingGate(error)

    # When alice asks for a streamed answer
    with client_with(guard, table) as client:
        response = client.post("/chat", json={"message": "Hi"}, headers=USER)

    # Then she gets a plain JSON error with a message she can be shown, not an event stream
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == error_type
    assert response.json()["error"]["message"] == error.user_message
    # and the guard was asked about her, for the chat route, and nothing was stored
    assert [(ctx.route, ctx.user_id) for ctx in guard.checked] == [("chat", "alice")]
    assert table.scan()["Items"] == []


def test_the_openapi_document_is_valid_and_describes_the_stream() -> None:
    # Given the app
    app = create_app(settings=ChatSettings(sessions_table="sessions"), runtime=RuntimeSettings())

    # When its OpenAPI document is generated
    document = app.openapi()

    # Then it is a valid OpenAPI 3.2 document
    validate(document)
    post_chat = document["paths"]["/chat"]["post"]
    # whose POST /chat answers JSON or an event stream whose events are all described
    content = post_chat["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/event-stream"}
    events = content["text/event-stream"]["itemSchema"]["properties"]
    assert events["event"]["enum"] == ["start", "delta", "done", "error"]
    for ref in events["data"]["contentSchema"]["oneOf"]:
        assert ref["$ref"].removeprefix("#/components/schemas/") in document["components"]["schemas"]
    # with every error status it can answer documented
    assert {"401", "404", "409", "422", "429", "503", "504"} <= set(post_chat["responses"])
    # and without the SnapStart hooks, which only the Lambda Web Adapter may call
    assert {"/chat", "/chat/{session_id}", "/health"} <= set(document["paths"])
    assert not [path for path in document["paths"] if path.startswith("/_lwa")]


def test_the_snapstart_hooks_drop_the_containers_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a container whose Claude clients exist (as they would after serving requests)
    monkeypatch.setenv("KIT_CHAT_SESSIONS_TABLE", "sessions")
    before = get_clients()
    app = create_app()

    # When the Lambda Web Adapter calls the after-restore hook
    with TestClient(app) as client:
        response = client.post(lifecycle.AFTER_RESTORE_PATH)

    # Then the restored copy builds its own clients (and fetches its own key) on next use
    assert response.status_code == 204
    assert get_clients() is not before
