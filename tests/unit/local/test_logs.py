"""`make local` labels every function's log line with that function and shows one line per Claude call."""

from __future__ import annotations

import io
import json
import threading

import pytest

from local.logs import LocalLogStream

CALL = {
    "level": "INFO",
    "message": "Claude call",
    "function_name": "claude-kit-local-poller",  # left over by another thread's invocation
    "route": "queue:default",
    "model": "claude-sonnet-5-5",
    "input_tokens": 12,
    "output_tokens": 34,
    "cost_usd": 0.000546,
    "latency_ms": 812.5,
    "ttft_ms": None,
    "user_id": "alice",
}


def _written_from(thread_name: str, stream: LocalLogStream, entry: dict[str, object]) -> None:
    thread = threading.Thread(target=stream.write, args=(json.dumps(entry) + "\n",), name=thread_name)
    thread.start()
    thread.join()


@pytest.mark.parametrize(
    ("thread_name", "label"),
    [("sqs:default", "default-consumer"), ("poller", "poller"), ("chat-api", "chat-api")],
)
def test_a_claude_call_is_one_readable_line_labelled_with_its_function(thread_name: str, label: str) -> None:
    out = io.StringIO()
    _written_from(thread_name, LocalLogStream(out, json_output=False), CALL)
    assert out.getvalue() == (
        f"[{label}] Claude call route=queue:default model=claude-sonnet-5-5 in=12 out=34 cost=$0.000546 "
        "latency=812.5ms user=alice\n"
    )


def test_info_chatter_is_left_out_and_warnings_are_kept() -> None:
    out = io.StringIO()
    stream = LocalLogStream(out, json_output=False)
    _written_from("poller", stream, {"level": "INFO", "message": "Polled batches"})
    _written_from("poller", stream, {"level": "WARNING", "message": "Batch not collected"})
    assert out.getvalue() == "[poller] WARNING Batch not collected\n"


def test_json_on_request_keeps_every_field_and_names_the_right_function() -> None:
    out = io.StringIO()
    _written_from("chat-api", LocalLogStream(out, json_output=True), CALL)
    entry = json.loads(out.getvalue())
    assert entry["function"] == "chat-api"
    assert "function_name" not in entry
    assert {k: v for k, v in entry.items() if k != "function"} == {
        k: v for k, v in CALL.items() if k != "function_name"
    }
