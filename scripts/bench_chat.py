"""The chat path against the official SDK reading the same stream directly, and its AWS calls per request.

Four processes: moto, the fake Claude (a `words`-delta answer as fast as it can send it), the chat app as
`run.sh` starts it (production logging on), and this one, the client. Each repetition streams one answer
through the SDK and one through the chat app, in alternating order, so drift on a shared machine hits both.

- total time: request sent → last event (`message_stop` for the SDK, `done` for the chat app);
- time to first delta: request sent → first text delta;
- CPU per answer: the chat app's process (all threads); for the SDK, this client's thread reading the stream;
- AWS calls: counted by moto as it answers them, per request, and those made before the first delta.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2

from scripts.harness import API_KEY, BenchStack, ChatProcess
from scripts.measure import BenchOptions, Measurement, summary

MODEL = "claude-sonnet-5-5"
TURNS_PER_SESSION = 4
#: message_start, content_block_start, ping, the first delta, then a pause.
STALL = "stall,seconds=0.25,after_events=4"


@dataclass(frozen=True)
class Stream:
    total: float
    first_delta: float
    cpu: float
    deltas: int


def run(options: BenchOptions) -> list[Measurement]:
    with BenchStack(words=options.words) as stack:
        chat = stack.start_chat()
        with httpx2.Client(timeout=120) as http:
            _kit_stream(http, chat)  # warm: the key read, connections, first-call imports
            _sdk_stream(stack.fake_url)
            sdk: list[Stream] = []
            kit: list[Stream] = []
            cpu_before = chat.cpu_seconds()
            for rep in range(options.repeat):
                paths: list[Callable[[], None]] = [
                    lambda: sdk.append(_sdk_stream(stack.fake_url)),
                    lambda: kit.append(_kit_stream(http, chat)),
                ]
                for path in paths if rep % 2 == 0 else paths[::-1]:
                    path()
            cpu_per_answer = (chat.cpu_seconds() - cpu_before) / options.repeat
            calls = _aws_calls(stack, http, chat, sessions=max(1, options.repeat // TURNS_PER_SESSION))
    return _relay_rows(options, sdk, kit, cpu_per_answer) + calls


def _relay_rows(
    options: BenchOptions, sdk: list[Stream], kit: list[Stream], cpu_per_answer: float
) -> list[Measurement]:
    if any(s.deltas != options.words for s in sdk + kit):
        raise RuntimeError(f"a stream did not carry {options.words} deltas")
    ratios = [k.total / s.total for s, k in zip(sdk, kit, strict=True)]
    added = [(k.first_delta - s.first_delta) * 1000 for s, k in zip(sdk, kit, strict=True)]
    note = f"{options.words} deltas; {options.repeat} pairs, interleaved"
    sdk_total, sdk_cpu = statistics.median(s.total for s in sdk), statistics.median(s.cpu for s in sdk)
    return [
        summary("chat", "total time, kit / direct SDK", ratios, "×", note, limit=1.3),
        summary("chat", "total time, direct SDK", [s.total * 1000 for s in sdk], "ms", note),
        summary("chat", "total time, kit", [k.total * 1000 for k in kit], "ms", note),
        summary("chat", "added time to first delta (kit − SDK)", added, "ms", note, limit=5.0),
        summary("chat", "time to first delta, direct SDK", [s.first_delta * 1000 for s in sdk], "ms", note),
        summary(
            "chat",
            "chat server CPU per answer",
            [k.cpu * 1000 for k in kit],
            "ms",
            f"{note}; threads' schedstat per answer; /proc stat over all: {cpu_per_answer * 1000:.1f} ms"
            f" (SDK client thread: {sdk_cpu * 1000:.1f} ms, {sdk_total * 1000:.0f} ms wall)",
            limit=20.0,
        ),
    ]


def _sdk_stream(fake_url: str) -> Stream:
    """The official SDK's raw event stream, as an application without the kit would read it."""
    from anthropic import Anthropic

    with Anthropic(api_key=API_KEY, base_url=fake_url, max_retries=0) as client:
        cpu, start = time.thread_time(), time.perf_counter()
        first, deltas = 0.0, 0
        stream = client.messages.create(
            model=MODEL, max_tokens=4096, messages=[{"role": "user", "content": "Go"}], stream=True
        )
        with stream:
            for event in stream:
                if event.type == "content_block_delta":
                    deltas += 1
                    first = first or time.perf_counter() - start
        return Stream(time.perf_counter() - start, first, time.thread_time() - cpu, deltas)


def _kit_stream(http: httpx2.Client, chat: ChatProcess, body: dict[str, object] | None = None) -> Stream:
    cpu, start = chat.thread_cpu_seconds(), time.perf_counter()
    first, deltas, done = 0.0, 0, False
    payload = body or {"message": "Go"}
    with http.sse(
        f"{chat.url}/chat", method="POST", json=payload, headers={"x-kit-user-id": "bench"}
    ) as events:
        for event in events:
            if event.event == "delta":
                deltas += 1
                first = first or time.perf_counter() - start
            elif event.event == "done":
                done = True
            elif event.event == "error":
                raise RuntimeError(f"the chat app answered an error event: {event.data}")
    if not done:
        raise RuntimeError("the chat stream ended without `done`")
    return Stream(time.perf_counter() - start, first, chat.thread_cpu_seconds() - cpu, deltas)


def _aws_calls(
    stack: BenchStack, http: httpx2.Client, chat: ChatProcess, *, sessions: int
) -> list[Measurement]:
    """Sessions of TURNS_PER_SESSION turns: AWS calls per request, and before the first delta."""
    per_request: list[float] = []
    before_first: dict[bool, list[float]] = {True: [], False: []}
    # The user the timed runs used: a container that has served the user before (its allowance read, cached
    # 60 s, and the spend switch, cached 30 s) is the steady state; each first read still shows in the mean.
    user = {"x-kit-user-id": "bench"}
    for _ in range(sessions):
        session_id: str | None = None
        for _ in range(TURNS_PER_SESSION):
            body = {"message": "Go", **({"session_id": session_id} if session_id else {})}
            # The answer pauses after its first delta, so the count read then holds only the calls before it.
            http.post(f"{stack.fake_url}/_fake/faults", json=[STALL]).raise_for_status()
            start = stack.settled_aws_calls().total()
            at_first_delta = None
            with http.sse(f"{chat.url}/chat", method="POST", json=body, headers=user) as events:
                for event in events:
                    if event.event == "start":
                        session_id = session_id or _session_id(event.data)
                    elif event.event == "delta" and at_first_delta is None:
                        at_first_delta = stack.aws_calls().total()
            if at_first_delta is None:
                raise RuntimeError("the chat stream had no delta")
            before_first["session_id" not in body].append(at_first_delta - start)
            per_request.append(stack.settled_aws_calls().total() - start)
    note = f"{sessions} sessions × {TURNS_PER_SESSION} turns, counted by moto"
    return [
        summary(
            "chat",
            "AWS calls per chat request (steady state)",
            per_request,
            "calls",
            f"{note}; mean {statistics.mean(per_request):.2f}",
            limit=3,
        ),
        summary(
            "chat",
            "AWS calls before the first delta, new session",
            before_first[True],
            "calls",
            note,
            limit=1,
        ),
        summary(
            "chat",
            "AWS calls before the first delta, existing session",
            before_first[False],
            "calls",
            note,
            limit=2,
        ),
    ]


def _session_id(data: str) -> str:
    return str(json.loads(data)["session_id"])
