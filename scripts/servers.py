"""The benchmark's servers, each in its own process so none shares a GIL with what it measures.

`python -m scripts.servers moto` serves moto and counts the AWS calls it answers (GET /_bench/calls);
`python -m scripts.servers fake --words 1000` serves the fake Claude answering every request with that many
text deltas, as fast as it can. Each prints its base URL on the first line of stdout, then serves until its
stdin closes (the parent died or is done) or it gets SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

CALLS_PATH = "/_bench/calls"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CallCounter:
    """WSGI middleware: one count per AWS API call, by operation (`DynamoDB_20120810.PutItem`, `s3 PUT` …).

    moto answers every call through this one WSGI app, so the count is exact whatever client made the call.
    `GET /_bench/calls` answers the counts so far; moto's own `/moto-api/…` requests are not counted.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CALLS_PATH:
            with self._lock:
                body = json.dumps(self._calls).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if not path.startswith("/moto-api"):
            with self._lock:
                self._calls[_operation(environ)] += 1
        return self._app(environ, start_response)


def _operation(environ: dict[str, Any]) -> str:
    """JSON protocols name the operation in X-Amz-Target; query protocols in `Action`; S3 is REST."""
    if target := environ.get("HTTP_X_AMZ_TARGET"):
        return str(target)
    query = environ.get("QUERY_STRING", "")
    for part in query.split("&"):
        if part.startswith("Action="):
            return part.removeprefix("Action=")
    return f"rest {environ.get('REQUEST_METHOD', '?')}"


def serve_moto() -> Callable[[], None]:
    import logging

    from local.moto_server import SerialMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access-log line per call
    server = SerialMotoServer(wrap=CallCounter)  # the local stack's moto, its calls counted
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host!s}:{port}", flush=True)
    return server.stop


def serve_fake(words: int) -> Callable[[], None]:
    from local.fake_claude import FakeClaudeConfig, FakeClaudeServer

    # One word per text delta (the fake splits on words); no pacing: deltas as fast as the fake can send them.
    text = " ".join(f"word{n}" for n in range(words))
    fake = FakeClaudeServer(FakeClaudeConfig(text=text)).start()
    print(fake.base_url, flush=True)
    return fake.stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.servers", description=__doc__)
    parser.add_argument("server", choices=["moto", "fake"])
    parser.add_argument("--words", type=int, default=1000, help="text deltas per answer (fake)")
    args = parser.parse_args(argv)
    stop = serve_moto() if args.server == "moto" else serve_fake(args.words)
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # returns when the parent closes our stdin
    stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
