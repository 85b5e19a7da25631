"""Every class of bad input the adversarial run found: a 4xx naming the field (or `body`), and no Claude call.

The conversation here records what reaches it; nothing invalid may.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from chat_api.app import create_app
from chat_api.errors import SessionNotFoundError
from chat_api.models import ChatRequest
from chat_api.settings import ChatSettings
from claude_kit.settings import RuntimeSettings

USER = {"x-kit-user-id": "alice"}
SESSION = "0f8fad5b-d9cb-469f-a165-70867728950e"


class RecordingConversation:
    """Stands where the conversation would call Claude: remembers each request that got this far."""

    def __init__(self) -> None:
        self.begun: list[ChatRequest] = []

    def begin(self, body: ChatRequest, **_: Any) -> None:
        self.begun.append(body)
        raise SessionNotFoundError  # a 404 is enough to prove the request arrived

    def history(self, session_id: str, **_: Any) -> None:
        raise SessionNotFoundError

    def delete(self, session_id: str, **_: Any) -> None:
        raise SessionNotFoundError


@pytest.fixture
def chats() -> RecordingConversation:
    return RecordingConversation()


@pytest.fixture
def client(chats: RecordingConversation) -> TestClient:
    runtime = RuntimeSettings(max_tokens_cap=1024)
    app = create_app(
        settings=ChatSettings(sessions_table="sessions", local_mode=True, message_max_chars=100),
        runtime=runtime,
        conversation=lambda: chats,  # type: ignore[arg-type,return-value]  # the part of it the routes use
    )
    return TestClient(app)


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"message": "Hi", "system": " \t\n "}, "system", "visible characters"),
        ({"message": "\u200b\u200c\u200d"}, "message", "visible characters"),
        ({"message": "\ufeff\ufeff"}, "message", "visible characters"),
        ({"message": "\u0001\u0002\u007f"}, "message", "visible characters"),
        ({"message": "Hi\u0000there"}, "message", "NUL"),
        ({"message": "\u0000"}, "message", "NUL"),
        ({"message": "Hi", "stream": "yes"}, "stream", "valid boolean"),
        ({"message": "Hi", "stream": 1}, "stream", "valid boolean"),
        ({"message": "Hi", "max_tokens": True}, "max_tokens", "valid integer"),
        ({"message": "Hi", "max_tokens": "5"}, "max_tokens", "valid integer"),
        ({"message": "Hi", "max_tokens": 0}, "max_tokens", "greater than 0"),
        ({"message": 5}, "message", "valid string"),
        ({"message": "Hi", "extra": 1}, "extra", "not permitted"),
        ({"message": "Hi", "session_id": "../../etc"}, "session_id", "pattern"),
        ({"message": "x" * 101}, "message", "at most 100 characters"),
        ({"message": "Hi", "max_tokens": 1025}, "max_tokens", "at most 1024"),
        ({"message": "Hi", "model": "claude-opus-1"}, "model", "must be one of"),
        ({}, "message", "Field required"),
        ([{"message": "Hi"}], "body", "JSON object"),
    ],
    ids=[
        "whitespace-system",
        "zero-width-only",
        "bom-only",
        "control-only",
        "nul-inside",
        "nul-only",
        "stream-string",
        "stream-number",
        "max-tokens-bool",
        "max-tokens-string",
        "max-tokens-zero",
        "message-number",
        "unknown-field",
        "session-id-shape",
        "too-long",
        "over-cap",
        "model-not-allowed",
        "missing-message",
        "array-body",
    ],
)
def test_an_invalid_request_is_a_422_naming_the_field_and_never_reaches_claude(
    client: TestClient, chats: RecordingConversation, body: Any, field: str, problem: str
) -> None:
    # When a request breaks one rule
    response = client.post("/chat", json=body, headers=USER)

    # Then it is refused with the field and the reason, and nothing went further
    assert response.status_code == 422, response.text
    fields = {item["field"]: item["problem"] for item in response.json()["error"]["fields"]}
    assert problem in fields[field]
    assert chats.begun == []


@pytest.mark.parametrize(
    ("content", "content_type", "problem"),
    [
        (b'{"message": "\xff\xfe"}', "application/json", "not valid UTF-8"),
        ('{"message": "café"}'.encode("latin-1"), "application/json; charset=latin-1", "charset 'latin-1'"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "nested too deeply"),
        (b'{"message": }', "application/json", "not valid JSON: Expecting value (line 1, column 13)"),
        (b'{"message": "Hi"', "application/json", "not valid JSON"),
    ],
    ids=["invalid-utf8", "latin1-charset", "deep-nesting", "syntax-error", "truncated"],
)
def test_an_unreadable_body_is_a_400_that_says_why(
    client: TestClient, chats: RecordingConversation, content: bytes, content_type: str, problem: str
) -> None:
    response = client.post("/chat", content=content, headers={**USER, "content-type": content_type})

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_body"
    [named] = error["fields"]
    assert named["field"] == "body"
    assert problem in named["problem"]
    assert chats.begun == []


def test_a_valid_request_does_reach_the_conversation(
    client: TestClient, chats: RecordingConversation
) -> None:
    # The control for the tests above: the same client lets a good request through
    response = client.post("/chat", json={"message": "Hi ✓", "stream": False, "max_tokens": 5}, headers=USER)

    assert response.status_code == 404
    assert [body.message for body in chats.begun] == ["Hi ✓"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [(f"/chat/{SESSION}", "DELETE, GET"), ("/chat", "POST"), ("/health", "GET")],
)
def test_a_wrong_method_is_a_405_whose_allow_lists_every_method_of_the_path(
    client: TestClient, path: str, allowed: str
) -> None:
    response = client.request("OPTIONS", path, headers=USER)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed


def test_the_openapi_document_publishes_the_deployments_limits(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ChatRequest"]["properties"]

    def branch(name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(
            b for b in schema[name].get("anyOf", [schema[name]]) if b.get("type") != "null"
        )
        return found

    assert branch("message")["maxLength"] == 100
    # `system` is not offered: callers may not send one unless chat.allow_caller_system is on
    assert "system" not in schema
    assert branch("max_tokens")["maximum"] == 1024
    assert branch("model")["enum"] == list(RuntimeSettings().allowed_models)


def test_the_document_offers_system_with_its_limit_where_callers_may_send_one() -> None:
    from chat_api.models import Limits

    properties: dict[str, Any] = {
        name: {"type": "string"} for name in ("message", "system", "max_tokens", "model")
    }
    schema: dict[str, Any] = {"properties": properties}
    Limits(100, 1024, ("claude-sonnet-5-5",), caller_system=True).publish(schema)
    assert properties["system"]["maxLength"] == 100
    Limits(100, 1024, ("claude-sonnet-5-5",), caller_system=False).publish(schema)
    assert "system" not in properties
