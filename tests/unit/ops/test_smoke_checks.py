"""The smoke checks name what failed: HTTP errors with the API's own type, streams that end badly, batch
items still waiting, a stack that is not there. No sockets: the chat API is an httpx mock, AWS a Stubber."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
import httpx2
import pytest
from botocore.stub import Stubber

from ops.smoke import cli
from ops.smoke.checks import check_batch, check_chat

URL = "https://api.example.test/dev/chat"


def sse(*events: tuple[str, dict[str, Any]], comments: int = 0) -> bytes:
    frames = [": keep-alive\n\n"] * comments
    frames += [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]
    return "".join(frames).encode()


def chat_answering(status: int, body: bytes, content_type: str = "text/event-stream") -> httpx2.Client:
    def answer(request: httpx2.Request) -> httpx2.Response:
        assert json.loads(request.content)["max_tokens"] == 16
        return httpx2.Response(status, content=body, headers={"content-type": content_type})

    return httpx2.Client(transport=httpx2.MockTransport(answer))


GOOD = sse(
    ("start", {"session_id": "s", "message_id": "m", "model": "claude-sonnet-5-5"}),
    ("delta", {"text": "ready"}),
    ("done", {"model": "claude-sonnet-5-5", "stop_reason": "end_turn", "cost_usd": 0.0001}),
    comments=2,
)


def test_a_whole_stream_passes_and_keep_alive_comments_are_ignored() -> None:
    result = check_chat(chat_answering(200, GOOD), URL, {"x-api-key": "placeholder"})

    assert result.status == "ok"
    assert "1 deltas from claude-sonnet-5-5, stop_reason end_turn" in result.detail


@pytest.mark.parametrize(
    ("status", "error_type", "named"),
    [
        (403, "http_error", "API Gateway refused the key"),
        (503, "spend_guard_closed", "bin/kit spend-guard status"),
        (502, "authentication_error", "put a valid key in the environment's secret"),
    ],
)
def test_an_http_error_is_named_with_the_apis_error_type_and_what_to_do(
    status: int, error_type: str, named: str
) -> None:
    body = json.dumps({"error": {"type": error_type, "message": "no", "fields": []}}).encode()

    result = check_chat(chat_answering(status, body, "application/json"), URL, {})

    assert result.status == "failed"
    assert f"HTTP {status} {error_type}: no" in result.detail
    assert named in result.detail


def test_a_stream_ending_in_an_error_event_fails_with_its_type() -> None:
    body = sse(("start", {}), ("error", {"type": "overloaded_error", "message": "Claude is busy"}))

    result = check_chat(chat_answering(200, body), URL, {})

    assert (result.status, result.detail) == (
        "failed",
        "the stream ended with error overloaded_error: Claude is busy",
    )


def test_an_unreachable_api_is_a_failure_not_a_traceback() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    result = check_chat(httpx2.Client(transport=httpx2.MockTransport(refuse)), URL, {})

    assert result.status == "failed"
    assert result.detail.startswith(f"POST {URL}: ConnectError")


def statuses(*summaries: Mapping[str, Any] | None) -> Any:
    remaining = list(summaries)
    return lambda _job: remaining.pop(0) if len(remaining) > 1 else remaining[0]


def test_a_batch_item_that_succeeds_passes_with_where_its_results_are() -> None:
    done = {"status": "COMPLETED", "counts": {"SUCCEEDED": 1}, "results_uri": "s3://bucket/results/job-1/"}

    result = check_batch(
        lambda _custom_id: "job-1",
        statuses(None, {"status": "OPEN", "counts": {"PENDING": 1}}, done),
        wait_seconds=60,
        sleep=lambda _s: None,
    )

    assert result.status == "ok"
    assert result.detail == "job job-1 SUCCEEDED; results in s3://bucket/results/job-1/"


def test_a_batch_item_still_in_its_message_batch_is_pending_not_failed() -> None:
    result = check_batch(
        lambda _custom_id: "job-2",
        statuses({"status": "OPEN", "counts": {"PENDING": 1}}),
        wait_seconds=0,
        sleep=lambda _s: None,
    )

    assert result.status == "pending"
    assert "{'PENDING': 1}" in result.detail


def test_a_batch_item_that_errored_or_could_not_be_sent_fails() -> None:
    errored = check_batch(
        lambda _custom_id: "job-3",
        statuses({"status": "COMPLETED", "counts": {"ERRORED": 1}}),
        wait_seconds=60,
        sleep=lambda _s: None,
    )

    def unsendable(_custom_id: str) -> str:
        raise RuntimeError("AWS.SimpleQueueService.NonExistentQueue")

    unsent = check_batch(unsendable, statuses(None), wait_seconds=60, sleep=lambda _s: None)

    assert (errored.status, unsent.status) == ("failed", "failed")
    assert "bin/kit results job-3" in errored.detail
    assert "NonExistentQueue" in unsent.detail


def test_a_missing_stack_is_one_line_saying_to_deploy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an account without the stack
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(cloudformation)
    stubber.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id claude-kit-dev does not exist"
    )
    stubber.activate()
    monkeypatch.setattr(cli, "_aws", lambda _service: cloudformation)

    # When the smoke test starts
    status = cli.main(["--env", "dev", "--skip", "batch,monitoring"])

    # Then it stops at once with what to do, and no traceback
    assert status == 2
    err = capsys.readouterr().err
    assert err == "error: no stack claude-kit-dev here: deploy it first (make deploy ENV=dev)\n"


def test_an_unknown_check_name_is_refused() -> None:
    assert cli.main(["--skip", "chatt"]) == 2
