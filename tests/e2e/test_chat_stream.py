"""The chat API end to end over real HTTP: uvicorn → ClaudeService → the fake Claude; sessions in moto."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chat_api import lifecycle
from chat_api.models import Usage
from claude_kit import calls
from claude_kit.pricing import estimate_cost
from claude_kit.settings import get_settings
from local.fake_claude import Fault
from tests.fixtures.chat import ChatClient, Event

TEXT = "Serverless streaming keeps the first token close to the user."
#: The fake writes one output token per word (with its leading space).
WORDS = re.findall(r"\s*\S+", TEXT)
#: A stall long enough that a test finishes well before it ends: it holds the fake mid-answer.
HOLD_SECONDS = 60
#: Events the fake sends before pausing: message_start, content_block_start, ping and the first words (the
#: SDK hands an event on once the next one arrives: a test reads at most two words before the pause).
PAUSE_MID_ANSWER = 6


def names(events: list[Event]) -> list[str]:
    return [event.name for event in events]


def text_of(events: list[Event]) -> str:
    return "".join(event.data["text"] for event in events if event.name == "delta")


def stored_turns(chat: ChatClient, session_id: str) -> list[dict[str, Any]]:
    response = chat.history(session_id)
    assert response.status_code == 200, response.text
    turns: list[dict[str, Any]] = response.json()["turns"]
    return turns


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll until `condition` holds: the server finishes its side of a closed stream a moment later."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def content_text(message: dict[str, Any]) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(block.get("text", "") for block in content)


def test_the_answer_streams_in_order_and_is_what_claude_wrote(chat: ChatClient) -> None:
    # Given Claude answers with a known text
    chat.fake.configure(text=TEXT)

    # When a user sends a message
    events = chat.events(message="How do I keep latency low?")

    # Then: one start, the deltas in order, exactly one done at the end
    assert names(events) == ["start"] + ["delta"] * len(WORDS) + ["done"]
    assert text_of(events) == TEXT
    start, done = events[0].data, events[-1].data
    assert done["message_id"] == start["message_id"]
    assert done["stop_reason"] == "end_turn"
    # and the usage is Claude's, the cost the kit's price for it
    usage = Usage.model_validate(done["usage"])
    assert usage.output_tokens == len(WORDS)
    assert usage.input_tokens > 0
    expected_cost = estimate_cost(
        done["model"], calls.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
    )
    assert done["cost_usd"] == expected_cost
    # and both turns are stored, the answer complete
    turns = stored_turns(chat, start["session_id"])
    assert [(t["role"], t["text"], t["partial"]) for t in turns] == [
        ("user", "How do I keep latency low?", False),
        ("assistant", TEXT, False),
    ]


def test_deltas_reach_the_client_while_claude_is_still_writing(chat: ChatClient) -> None:
    # Given Claude writes a few words, then pauses mid-answer
    chat.fake.configure(text=TEXT)
    chat.fake.inject(Fault.stall(seconds=HOLD_SECONDS, after_events=PAUSE_MID_ANSWER))

    # When the user reads the stream
    with chat.stream(message="Stream please") as events:
        start = next(events)
        first = next(events)
        # Then the first words are here while the answer is not finished: nothing is stored for it yet
        assert (first.name, first.data["text"]) == ("delta", WORDS[0])
        assert [t["role"] for t in stored_turns(chat, start.data["session_id"])] == ["user"]
        assert chat.fake.disconnects == 0


def test_a_client_leaving_mid_answer_cancels_claude_and_keeps_the_partial_answer(chat: ChatClient) -> None:
    # Given an answer in progress: a few words written, the rest still coming
    chat.fake.configure(text=TEXT)
    chat.fake.inject(Fault.stall(seconds=HOLD_SECONDS, after_events=PAUSE_MID_ANSWER))
    with chat.stream(message="Tell me everything") as events:
        session_id = next(events).data["session_id"]
        received = [next(events).data["text"], next(events).data["text"]]

    # When the client has gone (the block closed the connection)
    # Then the upstream stream to Claude is closed too
    assert chat.fake.wait_for_disconnects(1)
    # and what the user saw is stored, marked partial
    assert eventually(lambda: len(stored_turns(chat, session_id)) == 2)
    answer = stored_turns(chat, session_id)[1]
    assert (answer["role"], answer["partial"]) == ("assistant", True)
    # (what was relayed before the app noticed: at least what the client read, at most what Claude wrote)
    assert answer["text"].startswith("".join(received))
    assert TEXT.startswith(answer["text"])


def test_a_rate_limited_call_ends_the_stream_with_an_error_event(chat: ChatClient) -> None:
    # Given Claude answers 429 and asks for a wait longer than the kit will sit out
    chat.fake.inject(Fault.rate_limited(retry_after=120))

    # When the user sends a message
    events = chat.events(message="Hello")

    # Then the stream starts, then ends with a rate-limit error the client can show and retry
    assert names(events) == ["start", "error"]
    assert events[1].data == {
        "type": "rate_limit_error",
        "message": "Too many requests to Claude right now, please try again in a moment",
        "retryable": True,
    }
    # and the failed answer is on record, empty and partial
    answer = stored_turns(chat, events[0].data["session_id"])[1]
    assert (answer["text"], answer["partial"]) == ("", True)


def test_an_overloaded_claude_ends_the_stream_with_an_error_event(chat: ChatClient) -> None:
    # Given Claude stays overloaded through the kit's one retry (and no fallback model is configured)
    chat.fake.inject(Fault.overloaded(), Fault.overloaded())

    # When the user sends a message
    events = chat.events(message="Hello")

    # Then the stream ends with a busy error, after exactly two attempts
    assert names(events) == ["start", "error"]
    assert (events[1].data["type"], events[1].data["retryable"]) == ("overloaded_error", True)
    assert len(chat.fake.message_calls()) == 2


def test_a_failure_mid_answer_ends_with_an_error_event_and_keeps_the_text(chat: ChatClient) -> None:
    # Given Claude sends an overloaded error in the middle of its answer
    chat.fake.configure(text=TEXT)
    chat.fake.inject(Fault.stream_error(after_events=PAUSE_MID_ANSWER, error_type="overloaded_error"))

    # When the user sends a message
    events = chat.events(message="Hello")

    # Then the words written so far arrive, then one error event, and the stream closes
    assert names(events)[0] == "start"
    assert set(names(events)[1:-1]) == {"delta"}
    assert (events[-1].name, events[-1].data["retryable"]) == ("error", True)
    # and those words are stored as a partial answer
    answer = stored_turns(chat, events[0].data["session_id"])[1]
    assert (answer["text"], answer["partial"]) == (text_of(events), True)
    assert text_of(events) != ""
    assert TEXT.startswith(text_of(events))


def test_a_conversation_continues_with_its_history(chat: ChatClient) -> None:
    # Given a first exchange
    first = chat.events(message="My name is Ada.")
    session_id = first[0].data["session_id"]

    # When the user continues the same session
    second = chat.events(message="What is my name?", session_id=session_id)

    # Then Claude was sent the whole conversation so far
    sent = chat.fake.message_calls()[-1].body["messages"]
    assert [(m["role"], content_text(m)) for m in sent] == [
        ("user", "My name is Ada."),
        ("assistant", text_of(first)),
        ("user", "What is my name?"),
    ]
    # and the session holds four turns, in order, under the same id
    assert second[0].data["session_id"] == session_id
    assert [t["seq"] for t in stored_turns(chat, session_id)] == [1, 2, 3, 4]


def test_a_long_session_sends_only_the_turns_that_fit_the_context_window(
    chat: ChatClient, monkeypatch: Any
) -> None:
    # Given a context window of three messages and a session with two exchanges already
    with fresh_settings(chat, monkeypatch, KIT_CONTEXT_MAX_TURNS="3"):
        session_id = chat.post(message="one", stream=False).json()["session_id"]
        second = chat.post(message="two", session_id=session_id, stream=False).json()

        # When a third message is sent
        chat.post(message="three", session_id=session_id, stream=False)

    # Then Claude gets only the newest exchange and the new message
    sent = chat.fake.message_calls()[-1].body["messages"]
    assert [(m["role"], content_text(m)) for m in sent] == [
        ("user", "two"),
        ("assistant", second["text"]),
        ("user", "three"),
    ]
    # while the session keeps every turn
    assert len(stored_turns(chat, session_id)) == 6


def test_stream_false_returns_the_answer_as_one_json_document(chat: ChatClient) -> None:
    # Given Claude answers with a known text
    chat.fake.configure(text=TEXT)

    # When the user asks for a whole answer
    response = chat.post(message="Hello", stream=False)

    # Then it is one JSON answer with the text, usage and cost
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert (answer["text"], answer["stop_reason"], answer["usage"]["output_tokens"]) == (
        TEXT,
        "end_turn",
        len(WORDS),
    )
    assert answer["cost_usd"] > 0


@contextmanager
def fresh_settings(chat: ChatClient, monkeypatch: Any, **environment: str) -> Iterator[None]:
    """`environment` in force for the app: it rebuilds its settings, service and conversation on the next
    request, as after a SnapStart restore (an earlier test may have built them), and again afterwards."""

    def rebuild() -> None:
        get_settings.cache_clear()
        assert chat.http.post(lifecycle.AFTER_RESTORE_PATH).status_code == 204

    with monkeypatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        rebuild()
        try:
            yield
        finally:
            patch.undo()
            rebuild()
