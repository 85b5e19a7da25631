"""What `make local` prints while it runs: one readable line per Claude call, labelled with its function.

In Lambda each function has its own log group, so a JSON line needs no label. Here every function shares one
process and one Powertools logger (whose appended keys leak between threads), so the label comes from the
thread that wrote the line: the chat app's server thread, a queue's event source, the poller's timer.
`--log-json` keeps Powertools' JSON (label added as `function`), as CloudWatch would show it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any, TextIO

#: Levels shown in readable mode besides the Claude call lines (INFO chatter stays out of the way).
_SHOWN_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


def function_label(thread_name: str) -> str:
    """The function a thread stands in for (names set in local/chat.py and local/batch_queues.py)."""
    if thread_name.startswith("sqs:"):
        return f"{thread_name.removeprefix('sqs:')}-consumer"
    if thread_name == "poller":
        return "poller"
    # uvicorn's thread and the worker threads the chat app hands blocking work to.
    return "chat-api"


def readable(entry: dict[str, Any], label: str) -> str | None:
    """One line for a log entry, or None to leave it out."""
    message = str(entry.get("message", ""))
    if message == "Claude call":
        cost = entry.get("cost_usd")
        parts = [
            f"[{label}] Claude call route={entry.get('route')} model={entry.get('model')}",
            f"in={entry.get('input_tokens')} out={entry.get('output_tokens')}",
            f"cost={'unknown' if cost is None else f'${cost:.6f}'}",
            f"latency={entry.get('latency_ms')}ms",
        ]
        if entry.get("ttft_ms") is not None:
            parts.append(f"ttft={entry['ttft_ms']}ms")
        if entry.get("cache_read_input_tokens"):
            parts.append(f"cache_read={entry['cache_read_input_tokens']}")
        if entry.get("user_id"):
            parts.append(f"user={entry['user_id']}")
        if entry.get("error_type"):
            parts.append(f"error={entry['error_type']}")
        return " ".join(parts)
    level = str(entry.get("level", "INFO"))
    if level in _SHOWN_LEVELS:
        return f"[{label}] {level} {message}"
    return None


class LocalLogStream:
    """The stream Powertools' handler writes one JSON document per line to; rewritten per `json_output`."""

    def __init__(self, target: TextIO, *, json_output: bool) -> None:
        self._target = target
        self._json = json_output
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            rendered = self._render(line)
            if rendered is not None:
                with self._lock:
                    self._target.write(rendered + "\n")
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def _render(self, line: str) -> str | None:
        if not line.strip():
            return None
        label = function_label(threading.current_thread().name)
        try:
            entry = json.loads(line)
        except ValueError:
            return f"[{label}] {line}"
        if not isinstance(entry, dict):
            return line
        if self._json:
            entry["function"] = label
            entry.pop("function_name", None)  # a leftover of another thread's invocation
            return json.dumps(entry, default=str)
        return readable(entry, label)


def install(*, json_output: bool, target: TextIO | None = None) -> None:
    """Route the functions' logger through a LocalLogStream (the process is `make local`, nothing else)."""
    from claude_kit.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(LocalLogStream(target or sys.stdout, json_output=json_output))
