"""`make demo`: start the local stack, stream one chat answer to this terminal as it is written, and exit.

It speaks to the chat API exactly as a browser would (POST /chat, server-sent events), through the same app,
session table and Claude service that run in Lambda. With ANTHROPIC_API_KEY set, the real Claude answers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import httpx2

from claude_kit.observability import logger
from local.chat import ChatService
from local.cli import add_fake_options, fake_config_from
from local.stack import LocalStack

DEFAULT_MESSAGE = "In two sentences: why does streaming matter for a chat interface?"


def stream_answer(chat_url: str, message: str, *, user: str = "demo") -> bool:
    """Print the answer's text as it arrives; True when it finished (`done`), False on an `error` event."""
    body, headers = {"message": message}, {"x-kit-user-id": user}
    with (
        httpx2.Client(base_url=chat_url, timeout=httpx2.Timeout(30, read=300)) as http,
        http.sse("/chat", method="POST", json=body, headers=headers) as events,
    ):
        if events.response.status_code != 200:
            print(f"chat API answered {events.response.status_code}: {events.response.read().decode()}")
            return False
        for event in events:
            data = json.loads(event.data)
            match event.event:
                case "start":
                    print(f"session {data['session_id']}, {data['model']}:\n", flush=True)
                case "delta":
                    print(data["text"], end="", flush=True)
                case "done":
                    usage = data["usage"]
                    cost = "unknown" if data["cost_usd"] is None else f"${data['cost_usd']:.6f}"
                    print(
                        f"\n\n[{data['stop_reason']}: {usage['input_tokens']} tokens in, "
                        f"{usage['output_tokens']} out, {cost}]"
                    )
                    return True
                case "error":
                    print(f"\n\n[error {data['type']}: {data['message']}]")
                    return False
    return False


def _quiet_telemetry() -> None:
    """The app's metrics and INFO logs go to stdout, as in Lambda: here they would split the answer."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    logger.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__)
    parser.add_argument("message", nargs="?", default=DEFAULT_MESSAGE, help="what to ask")
    add_fake_options(parser)
    args = parser.parse_args(argv)
    _quiet_telemetry()
    stack = LocalStack(
        api_key=os.environ.get("ANTHROPIC_API_KEY") or None,
        fake_config=fake_config_from(args),
        services=[ChatService],
    )
    with stack:
        print(f"{args.message}\n", flush=True)
        finished = stream_answer(stack.urls[ChatService.name], args.message)
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
