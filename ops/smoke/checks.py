"""The smoke checks: each takes what it needs, does one real thing a user would do, and says what failed.

chat: stream one short answer through API Gateway (start, deltas, done); batch: enqueue one work item and wait
until it is collected; monitoring: the dashboard exists and no alarm is firing. A check returns a
`CheckResult`; it never raises for a failure it can name (HTTP status, error type, a missing resource).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx2

from claude_kit import contract

Status = Literal["ok", "failed", "pending"]

SMOKE_MESSAGE = "This is a deployment smoke test. Reply with one word: ready."
#: What an operator can do about the errors the chat API answers with (http_errors.py names the types).
_HINTS = {
    403: "API Gateway refused the key: use the ApiKeyId output's value (aws apigateway get-api-key "
    "--include-value --api-key <id>)",
    401: "no caller identity reached the app: check the API key or the Cognito token",
    429: "throttled or over quota: wait, or raise chat.throttle_* / the user's allowance in cdk.json",
    502: "Claude refused the API key: put a valid key in the environment's secret",
    503: "the spend guard is closed or Claude is busy: bin/kit spend-guard status --env ENV",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "seconds": self.seconds}


def check_chat(http: httpx2.Client, chat_url: str, headers: Mapping[str, str]) -> CheckResult:
    """One streamed answer: a `start`, at least one `delta`, then `done` (an `error` event is a failure)."""
    started = time.monotonic()

    def result(status: Status, detail: str) -> CheckResult:
        return CheckResult("chat", status, detail, round(time.monotonic() - started, 2))

    body = {"message": SMOKE_MESSAGE, "max_tokens": 16}
    try:
        with http.stream("POST", chat_url, json=body, headers=dict(headers)) as response:
            if response.status_code != 200:
                return result("failed", _http_failure(chat_url, response.status_code, response.read()))
            events = list(_sse_events(response.iter_lines()))
    except httpx2.HTTPError as exc:
        return result("failed", f"POST {chat_url}: {type(exc).__name__}: {exc}")
    names = [name for name, _ in events]
    if "error" in names:
        error = dict(events)["error"]
        return result("failed", f"the stream ended with error {error.get('type')}: {error.get('message')}")
    if not names or names[0] != "start" or names[-1] != "done" or "delta" not in names:
        return result("failed", f"expected start, delta… done; got {names or 'no events'}")
    done = events[-1][1]
    return result(
        "ok",
        f"{names.count('delta')} deltas from {done.get('model')}, stop_reason {done.get('stop_reason')}, "
        f"cost_usd {done.get('cost_usd')}",
    )


def check_batch(
    enqueue: Callable[[str], str],
    job_status: Callable[[str], Mapping[str, Any] | None],
    *,
    wait_seconds: float,
    poll_seconds: float = 5.0,
    progress: Callable[[str], None] = lambda _line: None,
    sleep: Callable[[float], None] = time.sleep,
) -> CheckResult:
    """Enqueue one item (`enqueue(custom_id)` returns the job id), then wait for the job to complete.

    Batch-mode queues go through the Message Batches API, which may take far longer than a smoke test
    waits: an item still PENDING when `wait_seconds` run out is `pending`, not failed.
    """
    started = time.monotonic()

    def result(status: Status, detail: str) -> CheckResult:
        return CheckResult("batch", status, detail, round(time.monotonic() - started, 2))

    try:
        job_id = enqueue("smoke-1")
    except Exception as exc:  # any failure to send is this check's finding, named
        return result("failed", f"could not enqueue: {type(exc).__name__}: {exc}")
    deadline = started + wait_seconds
    summary: Mapping[str, Any] | None = None
    while True:
        summary = job_status(job_id)
        counts: Mapping[str, int] = summary["counts"] if summary else {}
        if summary and summary["status"] == "COMPLETED":
            break
        if time.monotonic() >= deadline:
            seen = dict(counts) or "not seen by a consumer yet"
            return result("pending", f"job {job_id} not complete after {wait_seconds:.0f} s: {seen}")
        progress(f"batch: job {job_id} {dict(counts) or 'waiting for the consumer'}")
        sleep(poll_seconds)
    if counts.get("SUCCEEDED") != 1:
        return result("failed", f"job {job_id} completed with {dict(counts)}; see bin/kit results {job_id}")
    return result("ok", f"job {job_id} SUCCEEDED; results in {summary.get('results_uri')}")


def check_monitoring(cloudwatch: Any, env_name: str) -> CheckResult:
    """The environment's dashboard exists, its alarms exist, and none is in ALARM."""
    started = time.monotonic()
    dashboard, prefix = contract.dashboard_name(env_name), contract.alarm_name(env_name, "")
    problems: list[str] = []
    try:
        cloudwatch.get_dashboard(DashboardName=dashboard)
    except cloudwatch.exceptions.ResourceNotFound:
        problems.append(f"no dashboard {dashboard}")
    states: Counter[str] = Counter()
    firing: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix):
        for alarm in page["MetricAlarms"] + page.get("CompositeAlarms", []):
            states[alarm["StateValue"]] += 1
            if alarm["StateValue"] == "ALARM":
                firing.append(alarm["AlarmName"])
    if not states:
        problems.append(f"no alarms named {prefix}*")
    if firing:
        problems.append(f"in ALARM: {', '.join(sorted(firing))}")
    summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "no alarms"
    status: Status = "failed" if problems else "ok"
    detail = "; ".join(problems) if problems else f"dashboard {dashboard}; alarms: {summary}"
    return CheckResult("monitoring", status, detail, round(time.monotonic() - started, 2))


def _http_failure(url: str, status: int, body: bytes) -> str:
    try:
        error = json.loads(body)["error"]
        described = f"{error['type']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        described = body[:200].decode(errors="replace") or "(empty body)"
    hint = _HINTS.get(status)
    return f"POST {url}: HTTP {status} {described}" + (f" ({hint})" if hint else "")


def _sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) of each SSE event; comment lines (`: keep-alive`) are skipped."""
    name, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
    if data:
        yield name, json.loads(data)
