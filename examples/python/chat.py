"""Stream one chat answer from the kit's chat API and print it as it arrives.

    python examples/python/chat.py --url http://127.0.0.1:8080 --user alice "Why does streaming matter?"
    CHAT_API_KEY=... python examples/python/chat.py --url https://ID.execute-api.REGION.amazonaws.com/dev "Hi"

The answer goes to stdout word by word; the session id and a summary (tokens, cost, time to first token) go to
stderr. Pass `--session ID` to continue a conversation. Exit status: 0 answered, 1 the answer failed after it
started (an `error` event: whatever arrived before it is printed; the kit stored it as a partial turn), 2 the
request was refused before anything was sent to Claude (a JSON error: quota, spend guard, validation ...).
Nothing is retried or reconnected: an SSE stream of a POST cannot be resumed, so a retry is a new message,
and the `error` event's `retryable` says whether sending it again may work.

Needs `httpx2` (pip install httpx2), which the Anthropic SDK uses and which reads server-sent events itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import httpx2

API_KEY_VARIABLE = "CHAT_API_KEY"


def identity(user: str | None) -> dict[str, str]:
    """Deployed: the API key (API Gateway checks it). Locally (`make local`): any user name."""
    if api_key := os.environ.get(API_KEY_VARIABLE):
        return {"x-api-key": api_key}
    if user:
        return {"x-kit-user-id": user}
    raise SystemExit(f"set {API_KEY_VARIABLE} (deployed) or pass --user NAME (make local)")


def refusal(response: httpx2.Response) -> str:
    """One line from an error answer: the kit's `{"error": {...}}`, or API Gateway's `{"message": ...}`."""
    try:
        body: Any = response.json()
    except ValueError:
        return f"refused: HTTP {response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"refused: HTTP {response.status_code} {body}"
    fields = "; ".join(f"{f['field']}: {f['problem']}" for f in error.get("fields", []))
    return f"refused: HTTP {response.status_code} {error['type']}: {error['message']}" + (
        f" ({fields})" if fields else ""
    )


def chat(url: str, message: str, *, user: str | None, session_id: str | None, model: str | None) -> int:
    body: dict[str, Any] = {"message": message}
    if session_id:
        body["session_id"] = session_id
    if model:
        body["model"] = model
    started = time.monotonic()
    first_token: float | None = None
    with (
        httpx2.Client(timeout=httpx2.Timeout(30, read=300)) as client,
        client.sse(f"{url.rstrip('/')}/chat", method="POST", json=body, headers=identity(user)) as events,
    ):
        if events.response.status_code != 200:
            events.response.read()
            print(refusal(events.response), file=sys.stderr)
            return 2
        for event in events:
            data = json.loads(event.data)
            if event.event == "start":
                print(f"session: {data['session_id']}", file=sys.stderr)
            elif event.event == "delta":
                first_token = first_token or time.monotonic() - started
                print(data["text"], end="", flush=True)
            elif event.event == "done":
                tokens = f"{data['usage']['input_tokens']} in / {data['usage']['output_tokens']} out tokens"
                cost = "unknown" if data["cost_usd"] is None else f"${data['cost_usd']:.6f}"
                ttft = "-" if first_token is None else f"{first_token * 1000:.0f} ms"
                stop = data["stop_reason"]
                print()
                print(
                    f"done: {data['model']}, {tokens}, {cost}, first token {ttft}, stop {stop}",
                    file=sys.stderr,
                )
                return 0
            elif event.event == "error":
                print()
                again = "sending it again may work" if data["retryable"] else "do not resend as is"
                print(f"error: {data['type']}: {data['message']} ({again})", file=sys.stderr)
                return 1
    print("\nerror: the stream ended without a done or error event", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("message")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the chat API (default: %(default)s)")
    parser.add_argument("--user", help="local user name (make local); deployed, set CHAT_API_KEY instead")
    parser.add_argument("--session", help="continue this session (printed by an earlier run)")
    parser.add_argument("--model", help="one of the deployment's allowed models")
    args = parser.parse_args(argv)
    try:
        return chat(args.url, args.message, user=args.user, session_id=args.session, model=args.model)
    except httpx2.TransportError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
