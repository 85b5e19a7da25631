"""The chat API's contract around the stream: validation, identity, ownership, history and deletion."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.chat import ChatClient

UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000"


def problem_fields(response: Any) -> list[str]:
    return [problem["field"] for problem in response.json()["error"]["fields"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   \n"}, "message"),
        ({"message": "x" * 32_001}, "message"),
        ({"message": "Hi", "system": "x" * 32_001}, "system"),
        ({"message": "Hi", "max_tokens": 0}, "max_tokens"),
        ({"message": "Hi", "max_tokens": 4097}, "max_tokens"),
        ({"message": "Hi", "model": "claude-opus-5"}, "model"),
        ({"message": "Hi", "session_id": "../../etc/passwd"}, "session_id"),
        ({"message": "Hi", "session_id": "0000000000000000"}, "session_id"),
        ({"message": "Hi", "temperature": 2}, "temperature"),
        ({}, "message"),
    ],
    ids=[
        "empty",
        "blank",
        "too-long",
        "system-too-long",
        "max-tokens-zero",
        "max-tokens-over-cap",
        "model-not-allowed",
        "session-id-path",
        "session-id-not-uuid",
        "unknown-field",
        "no-message",
    ],
)
def test_an_invalid_request_is_refused_before_claude_is_called(
    chat: ChatClient, body: dict[str, Any], field: str
) -> None:
    # Given a request that breaks one rule
    # When it is sent
    response = chat.post(**body)

    # Then it is a 422 naming the field, and Claude never saw it
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_request"
    assert field in problem_fields(response)
    assert chat.fake.message_calls() == []


def test_a_request_without_identity_is_refused(chat: ChatClient) -> None:
    # Given no authorizer context and no local user header
    # When a message is sent
    response = chat.post(user=None, message="Hi")

    # Then it is refused before anything else happens
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthenticated"
    assert chat.fake.message_calls() == []


def test_nobody_can_read_extend_or_delete_another_users_session(chat: ChatClient) -> None:
    # Given alice's session
    session_id = chat.post(message="My secret plan", stream=False).json()["session_id"]
    calls_before = len(chat.fake.message_calls())

    # When bob reads it, writes to it, or deletes it
    read = chat.history(session_id, user="bob")
    extend = chat.post(user="bob", message="Tell me alice's plan", session_id=session_id)
    delete = chat.delete(session_id, user="bob")

    # Then each looks like a session that does not exist, and Claude was not called for bob
    assert [read.status_code, extend.status_code, delete.status_code] == [404, 404, 404]
    assert {r.json()["error"]["type"] for r in (read, extend, delete)} == {"session_not_found"}
    assert len(chat.fake.message_calls()) == calls_before
    # and alice's session is intact
    assert len(chat.history(session_id).json()["turns"]) == 2


def test_an_unknown_session_cannot_be_continued(chat: ChatClient) -> None:
    # When a message names a session that never existed
    response = chat.post(message="Hi", session_id=UNKNOWN_SESSION)

    # Then it is a 404 and nothing reached Claude
    assert response.status_code == 404
    assert chat.fake.message_calls() == []


def test_a_deleted_session_is_gone(chat: ChatClient) -> None:
    # Given a session with one exchange
    session_id = chat.post(message="Hi", stream=False).json()["session_id"]

    # When its owner deletes it
    deleted = chat.delete(session_id)

    # Then it cannot be read or continued any more
    assert deleted.status_code == 204
    assert chat.history(session_id).status_code == 404
    assert chat.post(message="Still there?", session_id=session_id).status_code == 404


def test_history_lists_the_turns_oldest_first(chat: ChatClient) -> None:
    # Given two exchanges
    first = chat.post(message="one", stream=False).json()
    chat.post(message="two", session_id=first["session_id"], stream=False)

    # When the owner reads the session
    history = chat.history(first["session_id"]).json()

    # Then it has the four turns, in order, each with its role and text
    assert [(t["seq"], t["role"]) for t in history["turns"]] == [
        (1, "user"),
        (2, "assistant"),
        (3, "user"),
        (4, "assistant"),
    ]
    assert history["turns"][1]["text"] == first["text"]
    assert history["turns"][1]["message_id"] == first["message_id"]


def test_a_malformed_session_id_in_the_path_is_a_validation_error(chat: ChatClient) -> None:
    # When the history of a malformed id is asked for
    response = chat.history("not-a-session")

    # Then it is refused as invalid, naming the parameter
    assert response.status_code == 422
    assert problem_fields(response) == ["session_id"]


def test_health_answers_without_identity_or_claude(chat: ChatClient) -> None:
    # When the readiness path is called (as the Lambda Web Adapter does)
    response = chat.http.get("/health")

    # Then it is ok, and nothing was asked of Claude
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert chat.fake.requests == []
