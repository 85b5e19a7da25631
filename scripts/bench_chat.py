"""The chat API's own costs, measured on the local stack (moto server + fake Claude, one machine):

- cold start: importing `chat_api.app` in a fresh interpreter, with compiled bytecode (what the Lambda bundle
  ships) and without it (every module compiled from source, as a bundle without .pyc files pays on each cold
  start), and the whole init the adapter waits for (the app plus the Anthropic SDK the lifespan preloads);
- relay: time per text delta from the fake read directly (raw SSE, then the SDK's event stream) and through
  the chat app (SDK → ClaudeService → SSE → HTTP), and the difference: the app's overhead per token;
- time to first byte and to the first delta of POST /chat, with a fake that answers at once: the app's own
  latency (DynamoDB on moto dominates it; on AWS those calls are single-digit milliseconds).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx2

import local  # noqa: F401  (puts functions/, the Lambda bundle root, on sys.path for the imports in run)
from scripts.measure import Measurement, median_seconds

REPO_ROOT = Path(__file__).resolve().parents[1]
WORDS = 1_000
REQUESTS = 20
MODEL = "claude-sonnet-5-5"


def run() -> list[Measurement]:
    return [*_cold_start(), *_relay_and_first_byte()]


def _cold_start() -> list[Measurement]:
    baseline = _fresh_interpreter("pass", bytecode=True)
    with_pyc = _fresh_interpreter("import chat_api.app", bytecode=True) - baseline
    without_pyc = _fresh_interpreter("import chat_api.app", bytecode=False) - baseline
    init = _fresh_interpreter("import chat_api.app, anthropic", bytecode=True) - baseline
    return [
        Measurement("chat", "import chat_api.app, with .pyc", with_pyc * 1000, "ms", "fresh interpreter"),
        Measurement("chat", "import chat_api.app, no .pyc", without_pyc * 1000, "ms", "compiled from source"),
        Measurement("chat", "init: app + Anthropic SDK, with .pyc", init * 1000, "ms", "before readiness"),
    ]


def _fresh_interpreter(code: str, *, bytecode: bool, repeat: int = 5) -> float:
    """Median seconds for a new interpreter to run `code`; bytecode from a warm private cache, or none."""
    with tempfile.TemporaryDirectory() as cache:
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)]),
            "PYTHONPYCACHEPREFIX": cache,
        }
        if bytecode:
            environment.pop("PYTHONDONTWRITEBYTECODE", None)
            _run_python(code, environment)  # fills the cache
        else:
            environment["PYTHONDONTWRITEBYTECODE"] = "1"  # the empty cache stays empty: compile every time
        return median_seconds(lambda: _run_python(code, environment), repeat=repeat)


def _run_python(code: str, environment: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", code], env=environment, check=True)  # noqa: S603


def _relay_and_first_byte() -> list[Measurement]:
    from local.chat import ChatService
    from local.fake_claude import FakeClaudeConfig
    from local.stack import LocalStack

    text = " ".join(f"word{n}" for n in range(WORDS))
    with LocalStack(fake_config=FakeClaudeConfig(text=text), services=[ChatService]) as stack:
        assert stack.fake is not None
        chat_url, fake_url = stack.urls[ChatService.name], stack.fake.base_url
        key = stack.fake.config.api_key
        with httpx2.Client(timeout=120) as http:
            _chat_deltas(http, chat_url)  # warm up: clients, connections, the SDK import
            raw = _median(lambda: _raw_deltas(http, fake_url, key))
            sdk = _median(lambda: _sdk_deltas(fake_url, key))
            relayed = _median(lambda: _chat_deltas(http, chat_url))
            stack.fake.configure(text="Hello.")
            first_byte, first_delta = _first_byte_and_delta(http, chat_url)

    def per_delta(seconds: float) -> float:
        return seconds / WORDS * 1e6

    # Fake, app and client share one process (and its GIL) here: the relay figures are an upper bound.
    note, requests = f"{WORDS} deltas, median of 5 streams", f"median of {REQUESTS}"
    return [
        Measurement("chat", "per delta, fake → raw SSE", per_delta(raw), "µs", note),
        Measurement("chat", "per delta, fake → SDK create(stream=True)", per_delta(sdk), "µs", note),
        Measurement("chat", "per delta, fake → chat app → client", per_delta(relayed), "µs", note),
        Measurement("chat", "relay overhead per delta (app − raw)", per_delta(relayed - raw), "µs", note),
        Measurement("chat", "time to first byte (start event)", first_byte * 1000, "ms", requests),
        Measurement("chat", "time to first delta", first_delta * 1000, "ms", requests),
    ]


def _median(stream: Callable[[], float], repeat: int = 5) -> float:
    return statistics.median(stream() for _ in range(repeat))


PROMPT = [{"role": "user", "content": "Go"}]


def _raw_deltas(http: httpx2.Client, fake_url: str, key: str) -> float:
    """Seconds from the first text delta to the last, reading the fake's SSE with no SDK at all."""
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    body = {"model": MODEL, "max_tokens": 4096, "stream": True, "messages": PROMPT}
    with http.sse(f"{fake_url}/v1/messages", method="POST", json=body, headers=headers) as events:
        return _span(event.event == "content_block_delta" for event in events)


def _sdk_deltas(fake_url: str, key: str) -> float:
    """The same, through the SDK's raw event stream (what ClaudeService reads)."""
    from anthropic import Anthropic

    with Anthropic(api_key=key, base_url=fake_url, max_retries=0) as client:
        stream = client.messages.create(
            model=MODEL, max_tokens=4096, messages=[{"role": "user", "content": "Go"}], stream=True
        )
        with stream:
            return _span(event.type == "content_block_delta" for event in stream)


def _chat_deltas(http: httpx2.Client, chat_url: str) -> float:
    """The same, through the chat app: POST /chat, SSE `delta` events."""
    with http.sse(
        f"{chat_url}/chat", method="POST", json={"message": "Go"}, headers={"x-kit-user-id": "bench"}
    ) as events:
        return _span(event.event == "delta" for event in events)


def _span(is_delta: Iterable[bool]) -> float:
    """Seconds between the first and the last True of an iterator of flags, timed as they arrive."""
    first = last = None
    for delta in is_delta:
        if delta:
            last = time.perf_counter()
            first = first or last
    if first is None or last is None:
        raise RuntimeError("the stream had no text deltas")
    return last - first


def _first_byte_and_delta(http: httpx2.Client, chat_url: str) -> tuple[float, float]:
    first_bytes, first_deltas = [], []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        with http.sse(
            f"{chat_url}/chat", method="POST", json={"message": "Hi"}, headers={"x-kit-user-id": "bench"}
        ) as source:
            events = iter(source)
            for event in events:
                if event.event == "start":
                    first_bytes.append(time.perf_counter() - start)
                elif event.event == "delta":
                    first_deltas.append(time.perf_counter() - start)
                    break
            deque(events, maxlen=0)  # read to the end: the answer completes, as in normal use
    return statistics.median(first_bytes), statistics.median(first_deltas)
