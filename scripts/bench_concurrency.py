"""`streams` concurrent answers through one chat process, against as many concurrent direct SDK streams.

Errors (anything but a stream ending in `done` with every delta), the chat process's CPU per stream, and
time to first delta for both paths. One client process drives all streams with asyncio;
rounds alternate the order. Each round gets a fresh stack: moto copies a table for every transaction it runs,
so its calls slow down as the rounds fill the sessions table, which DynamoDB's do not.
"""

from __future__ import annotations

import asyncio
import time

import httpx2

from scripts.harness import API_KEY, BenchStack, ChatProcess
from scripts.measure import BenchOptions, Measurement, summary

MODEL = "claude-sonnet-5-5"


def run(options: BenchOptions) -> list[Measurement]:
    rounds = max(1, options.repeat // 5)
    kit_first: list[float] = []
    sdk_first: list[float] = []
    cpu_per_stream: list[float] = []
    errors: list[str] = []
    for n in range(rounds):
        with BenchStack(words=options.words) as stack:
            chat = stack.start_chat()
            asyncio.run(_kit_round(chat, 2, options.words))  # warm: the key read, connections
            for path in ("kit", "sdk") if n % 2 == 0 else ("sdk", "kit"):
                if path == "sdk":
                    sdk_first += asyncio.run(_sdk_round(stack.fake_url, options.streams))
                    continue
                cpu = chat.cpu_seconds()
                firsts, failed = asyncio.run(_kit_round(chat, options.streams, options.words))
                cpu_per_stream.append((chat.cpu_seconds() - cpu) / options.streams * 1000)
                kit_first += firsts
                errors += failed
    note = f"{options.streams} concurrent streams × {rounds} rounds, {options.words} deltas each"
    kinds = sorted(set(errors))
    return [
        Measurement(
            "concurrency",
            "errors",
            len(errors),
            "streams",
            f"{note}; {kinds or 'none'}",
            samples=rounds,
            limit=0,
        ),
        summary("concurrency", "chat server CPU per stream", cpu_per_stream, "ms", note, limit=20.0),
        summary("concurrency", "time to first delta, kit", kit_first, "ms", note),
        summary("concurrency", "time to first delta, direct SDK", sdk_first, "ms", note),
    ]


async def _kit_round(chat: ChatProcess, streams: int, words: int) -> tuple[list[float], list[str]]:
    limits = httpx2.Limits(max_connections=streams)
    async with httpx2.AsyncClient(timeout=300, limits=limits) as http:
        results = await asyncio.gather(
            *(_kit_stream(http, chat.url, n, words) for n in range(streams)), return_exceptions=True
        )
    firsts = [r for r in results if isinstance(r, float)]
    return firsts, [f"{type(r).__name__}: {str(r)[:80]}" for r in results if isinstance(r, BaseException)]


async def _kit_stream(http: httpx2.AsyncClient, url: str, n: int, words: int) -> float:
    start = time.perf_counter()
    first, deltas, done = 0.0, 0, False
    headers = {"x-kit-user-id": f"bench-concurrent-{n}"}
    async with http.sse(f"{url}/chat", method="POST", json={"message": "Go"}, headers=headers) as events:
        async for event in events:
            if event.event == "delta":
                deltas += 1
                first = first or (time.perf_counter() - start) * 1000
            elif event.event == "done":
                done = True
            elif event.event == "error":
                raise RuntimeError(f"error event {event.data[:60]}")
    if not done or deltas != words:
        raise RuntimeError(f"stream {n}: done={done}, {deltas} deltas")
    return first


async def _sdk_round(fake_url: str, streams: int) -> list[float]:
    from anthropic import AsyncAnthropic

    async with AsyncAnthropic(api_key=API_KEY, base_url=fake_url, max_retries=0) as client:
        return list(await asyncio.gather(*(_sdk_stream(client) for _ in range(streams))))


async def _sdk_stream(client: object) -> float:
    from anthropic import AsyncAnthropic

    assert isinstance(client, AsyncAnthropic)
    start = time.perf_counter()
    first = 0.0
    stream = await client.messages.create(
        model=MODEL, max_tokens=4096, messages=[{"role": "user", "content": "Go"}], stream=True
    )
    async with stream:
        async for event in stream:
            if event.type == "content_block_delta":
                first = first or (time.perf_counter() - start) * 1000
    return first
