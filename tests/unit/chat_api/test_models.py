"""Request limits that depend on the deployment, and the conversation history sent to Claude."""

from __future__ import annotations

import pytest
from fastapi.sse import format_sse_event
from pydantic import ValidationError

from chat_api.conversation import history_messages
from chat_api.models import ChatRequest, DeltaEvent, DeltaEvents, Limits
from chat_api.sessions import Role, StoredTurn

LIMITS = Limits(message_max_chars=10, max_tokens_cap=100, allowed_models=("claude-sonnet-5-5",))


def turn(seq: int, role: Role, text: str, *, partial: bool = False) -> StoredTurn:
    return StoredTurn(
        seq=seq,
        created_at="2026-11-25T00:00:00.000+00:00",
        role=role,
        text=text,
        message_id=f"m{seq}",
        partial=partial,
    )


def test_a_request_within_the_limits_has_no_problems() -> None:
    body = ChatRequest(message="0123456789", max_tokens=100, model="claude-sonnet-5-5")
    assert LIMITS.problems(body) == {}


def test_every_broken_limit_is_named_by_its_field() -> None:
    # Given a request over every deployment limit at once
    body = ChatRequest(message="x" * 11, system="y" * 11, max_tokens=101, model="claude-opus-5")

    # When it is checked
    problems = LIMITS.problems(body)

    # Then each field says what is wrong
    assert problems == {
        "message": "must be at most 10 characters",
        "system": "must be at most 10 characters",
        "max_tokens": "must be at most 100",
        "model": "must be one of ['claude-sonnet-5-5']",
    }


@pytest.mark.parametrize(
    "session_id", ["ABC", "0f8fad5b-d9cb-469f-a165-70867728950", "0F8FAD5B-D9CB-469F-A165-70867728950E"]
)
def test_a_session_id_must_be_a_lowercase_uuid(session_id: str) -> None:
    with pytest.raises(ValidationError, match="session_id"):
        ChatRequest(message="Hi", session_id=session_id)


def test_history_alternates_questions_and_the_answers_they_got() -> None:
    # Given a session where one exchange failed before any text and another was cut short
    turns = [
        turn(1, Role.USER, "first"),
        turn(2, Role.ASSISTANT, "answer one"),
        turn(3, Role.USER, "lost"),
        turn(4, Role.ASSISTANT, "", partial=True),
        turn(5, Role.USER, "cut"),
        turn(6, Role.ASSISTANT, "half an ans", partial=True),
        turn(7, Role.USER, "in flight"),
    ]

    # When it becomes the history sent to Claude
    messages = history_messages(turns)

    # Then the failed question and the unanswered one are left out; the partial answer the user saw stays
    assert messages == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer one"},
        {"role": "user", "content": "cut"},
        {"role": "assistant", "content": "half an ans"},
    ]


@pytest.mark.parametrize("texts", [["Hel", "lo"], ['quote " and \\ back', "line\nbreak", "é ✓ 🙂"], [""]])
def test_delta_frames_are_the_delta_events_the_schema_describes(texts: list[str]) -> None:
    # Given deltas framed on the fast path, and the same deltas framed from the model
    fast = DeltaEvents(texts).frames()
    slow = b"".join(
        format_sse_event(event="delta", data_str=DeltaEvent(text=text).model_dump_json()) for text in texts
    )
    # Then both are the same events: one `delta` each, whose data validates as a DeltaEvent with that text
    assert parse_frames(fast) == parse_frames(slow) == [("delta", text) for text in texts]


def parse_frames(stream: bytes) -> list[tuple[str, str]]:
    events = []
    for block in stream.decode().split("\n\n")[:-1]:
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields["event"], DeltaEvent.model_validate_json(fields["data"]).text))
    return events
