"""record_call: one EMF blob with both dimension sets and one log line, per call, emitted at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from claude_kit.calls import Usage
from claude_kit.telemetry import CallRecord, ratelimit_headroom, record_call, record_count

RECORD = CallRecord(
    environment="prod",
    route="chat",
    model="claude-haiku-5-5",
    requested_model="claude-sonnet-5-5",
    usage=Usage(
        input_tokens=120, output_tokens=30, cache_creation_input_tokens=2000, cache_read_input_tokens=4000
    ),
    latency_ms=812.5,
    timestamp=datetime.now(UTC).replace(microsecond=0),
    fallback_used=True,
    ttft_ms=230.0,
    stop_reason="end_turn",
    retries=2,
    throttles=1,
    cost_usd=0.0123,
    billed_attempts=2,
    ambiguous_attempts=1,
    possibly_billed_usd=0.0456,
    user_id="user-42",
    request_id="caller-req-9",
    api_request_id="req_abc",
    message_id="msg_1",
    ratelimit_requests_remaining=17,
    ratelimit_tokens_remaining=5000,
    streamed=True,
)


def emitted_blobs(capsys) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def test_one_blob_carries_every_metric_under_both_dimension_sets(capsys):
    record_call(RECORD)

    (blob,) = emitted_blobs(capsys)
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ClaudeServerlessKit"
    assert directive["Dimensions"] == [["Environment", "Model", "Route"], ["Environment"]]
    assert (blob["Environment"], blob["Model"], blob["Route"]) == ("prod", "claude-haiku-5-5", "chat")
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units == {
        "Calls": "Count",
        "Errors": "Count",
        "Throttles": "Count",
        "Retries": "Count",
        "Fallbacks": "Count",
        "InputTokens": "Count",
        "OutputTokens": "Count",
        "CacheCreationInputTokens": "Count",
        "CacheReadInputTokens": "Count",
        "UnknownModelCost": "Count",
        "BilledAttempts": "Count",
        "AmbiguousAttempts": "Count",
        "RateLimitRequestsRemaining": "Count",
        "RateLimitTokensRemaining": "Count",
        "CostUSD": "None",
        "PossiblyBilledCostUSD": "None",
        "LatencyMs": "Milliseconds",
        "TimeToFirstTokenMs": "Milliseconds",
    }
    values = {name: blob[name] for name in units}
    assert values == {
        "Calls": [1.0],
        "Errors": [0.0],
        "Throttles": [1.0],
        "Retries": [2.0],
        "Fallbacks": [1.0],
        "InputTokens": [120.0],
        "OutputTokens": [30.0],
        "CacheCreationInputTokens": [2000.0],
        "CacheReadInputTokens": [4000.0],
        "UnknownModelCost": [0.0],
        "BilledAttempts": [2.0],
        "AmbiguousAttempts": [1.0],
        "RateLimitRequestsRemaining": [17.0],
        "RateLimitTokensRemaining": [5000.0],
        "CostUSD": [0.0123],
        "PossiblyBilledCostUSD": [0.0456],
        "LatencyMs": [812.5],
        "TimeToFirstTokenMs": [230.0],
    }
    assert blob["_aws"]["Timestamp"] == int(RECORD.timestamp.timestamp() * 1000)


def test_user_and_request_ids_are_properties_never_dimensions(capsys):
    record_call(RECORD)

    (blob,) = emitted_blobs(capsys)
    dimensions = {
        name for dimension_set in blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for name in dimension_set
    }
    assert dimensions == {"Environment", "Model", "Route"}
    assert (blob["user_id"], blob["request_id"], blob["api_request_id"]) == (
        "user-42",
        "caller-req-9",
        "req_abc",
    )


def test_a_service_name_does_not_add_a_dimension(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "chat_api")

    record_call(RECORD)

    (blob,) = emitted_blobs(capsys)
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["Environment", "Model", "Route"],
        ["Environment"],
    ]


def test_an_unknown_cost_is_counted_and_not_reported_as_zero(capsys):
    record_call(
        CallRecord(
            environment="dev",
            route="batch",
            model="claude-x",
            requested_model="claude-x",
            usage=Usage(),
            latency_ms=1.0,
        )
    )

    (blob,) = emitted_blobs(capsys)
    assert blob["UnknownModelCost"] == [1.0]
    assert "CostUSD" not in blob
    assert "TimeToFirstTokenMs" not in blob
    assert "RateLimitTokensRemaining" not in blob


def test_batch_results_do_not_report_latency(capsys):
    record_call(
        CallRecord(
            environment="dev",
            route="batch",
            model="claude-haiku-5-5",
            requested_model="claude-haiku-5-5",
            usage=Usage(input_tokens=10, output_tokens=5),
            latency_ms=0.0,
            cost_usd=0.0001,
            batch=True,
        )
    )

    (blob,) = emitted_blobs(capsys)
    assert "LatencyMs" not in blob
    assert blob["CostUSD"] == [0.0001]
    assert blob["Calls"] == [1.0]


@pytest.mark.parametrize(("error_type", "errors"), [("overloaded_error", 1.0), ("client_disconnected", 0.0)])
def test_client_disconnects_are_not_errors(capsys, error_type, errors):
    record_call(
        CallRecord(
            environment="dev",
            route="chat",
            model="m",
            requested_model="m",
            usage=Usage(),
            latency_ms=1.0,
            error_type=error_type,
        )
    )

    (blob,) = emitted_blobs(capsys)
    assert blob["Errors"] == [errors]


def test_each_call_is_one_structured_log_line(caplog):
    record_call(RECORD)

    (line,) = [record for record in caplog.records if record.getMessage() == "Claude call"]
    assert (line.model, line.fallback_used, line.cache_hit, line.cost_usd) == (
        "claude-haiku-5-5",
        True,
        True,
        0.0123,
    )
    assert (line.user_id, line.context_dropped_turns, line.ttft_ms) == ("user-42", 0, 230.0)


def test_event_counters_use_the_environment_dimension_only(capsys, monkeypatch):
    monkeypatch.setenv("KIT_ENV_NAME", "staging")

    record_count("BatchItemsSubmitted", 250)

    (blob,) = emitted_blobs(capsys)
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Environment"]]
    assert (blob["Environment"], blob["BatchItemsSubmitted"]) == ("staging", [250.0])


def test_ratelimit_headroom_reads_remaining_requests_and_tokens():
    headers = {"anthropic-ratelimit-requests-remaining": "12", "anthropic-ratelimit-tokens-remaining": "n/a"}

    assert ratelimit_headroom(headers) == (12, None)
