"""SSE keep-alive: a stream Claude leaves silent (long thinking) writes comment lines, then the answer."""

from __future__ import annotations

import json

from chat_api.keepalive import KEEPALIVE_COMMENT
from local.fake_claude import FakeClaudeServer, Fault
from tests.integration.chat_api.conftest import ChatAppFactory

USER = {"x-kit-user-id": "alice"}
TEXT = "Thinking takes a while, then the answer arrives."
#: The fake's first events (message_start, content_block_start, ping, first word) come before the pause.
PAUSE_AFTER_EVENTS = 4


def frames(raw: str) -> list[str]:
    """The stream's frames in order: an event's name, or `:` for a comment line."""
    names = []
    for frame in raw.split("\n\n"):
        if frame.startswith(":"):
            names.append(":")
        elif frame.startswith("event: "):
            names.append(frame.splitlines()[0].removeprefix("event: "))
    return names


def answer_text(raw: str) -> str:
    text = ""
    for frame in raw.split("\n\n"):
        lines = frame.splitlines()
        if lines and lines[0] == "event: delta":
            text += json.loads(lines[1].removeprefix("data: "))["text"]
    return text


def test_a_stalled_answer_is_kept_alive_with_comments_then_arrives_whole(
    chat_app: ChatAppFactory, fake_claude: FakeClaudeServer
) -> None:
    # Given a keep-alive every 0.1 s, and Claude silent for 1.5 s in the middle of its answer
    client = chat_app(keepalive_seconds=0.1)
    fake_claude.configure(text=TEXT)
    fake_claude.inject(Fault.stall(seconds=1.5, after_events=PAUSE_AFTER_EVENTS))

    # When a user asks
    response = client.post("/chat", json={"message": "Think hard"}, headers=USER)

    # Then the silence was filled with keep-alive comments, between the start and the end of the answer
    assert response.status_code == 200
    raw = response.text
    names = frames(raw)
    assert KEEPALIVE_COMMENT.decode() in raw
    assert names.count(":") >= 2
    assert names[0] == "start"
    assert names[-1] == "done"
    # and the answer is whole: the comments took nothing from it
    assert answer_text(raw) == TEXT
    assert [name for name in names if name != ":"] == ["start"] + ["delta"] * names.count("delta") + ["done"]


def test_no_comment_is_written_while_the_silence_is_shorter_than_the_interval(
    chat_app: ChatAppFactory, fake_claude: FakeClaudeServer
) -> None:
    # Given the default 30 s interval and the same 1.5 s silence
    client = chat_app()
    fake_claude.configure(text=TEXT)
    fake_claude.inject(Fault.stall(seconds=1.5, after_events=PAUSE_AFTER_EVENTS))

    # When a user asks
    response = client.post("/chat", json={"message": "Think hard"}, headers=USER)

    # Then the stream is exactly the events
    assert ":" not in frames(response.text)
    assert answer_text(response.text) == TEXT
