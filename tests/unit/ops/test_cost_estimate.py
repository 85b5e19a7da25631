"""`bin/kit cost-estimate` on small fixed templates, against figures computed by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ops.cost.data_files import AwsPrices, Workload, load_prices, load_workload
from ops.cost.estimate import Traffic, estimate, runs_per_month
from ops.cost.telemetry_size import TelemetrySize, measure

PRICES = AwsPrices.model_validate({
    "as_of": "2026-12-06", "region": "us-east-1", "currency": "USD", "sources": {"page": "https://example.com"},
    "prices": {name: {"usd": usd, "source": "page"} for name, usd in {
        "cloudwatch_alarm_metric_month": 0.10, "cloudwatch_high_resolution_alarm_metric_month": 0.30,
        "cloudwatch_dashboard_month": 3.00, "kms_key_month": 1.00, "secret_month": 0.40,
        "scheduler_invocations_per_million": 1.00, "lambda_requests_per_million": 0.20,
        "lambda_arm64_gb_second": 0.0000133334, "lambda_x86_gb_second": 0.0000166667,
        "xray_traces_recorded_per_million": 5.00, "sqs_requests_per_million": 0.40,
        "apigateway_rest_requests_per_million": 3.50, "logs_ingestion_gb": 0.50,
        "dynamodb_read_request_units_per_million": 0.125, "dynamodb_write_request_units_per_million": 0.625,
        "cloudwatch_custom_metric_month": 0.30, "s3_put_requests_per_thousand": 0.005,
        "lambda_arm64_provisioned_gb_second": 0.0000033334, "lambda_snapstart_cache_gb_second": 0.0000015046,
    }.items()},
})  # fmt: skip


def _figures(**values: float) -> dict[str, dict[str, Any]]:
    return {name: {"value": value, "basis": "test"} for name, value in values.items()}


WORKLOAD = Workload.model_validate({
    "hours_per_month": 720,
    "chat_call": _figures(input_tokens=2000, output_tokens=540, time_to_first_token_seconds=1,
                          output_tokens_per_second=60, kit_overhead_seconds=0, other_log_bytes=1000,
                          dynamodb_read_units=2, dynamodb_write_units=6),
    "batch_item": _figures(),
    "idle": _figures(poller_idle_seconds=0.5, guard_invocation_seconds=1, sqs_idle_receives_per_minute=15),
    "xray_sampling": _figures(reservoir_per_second=1, rate=0.05),
})  # fmt: skip
SIZE = TelemetrySize(bytes_per_call=2000, metrics_per_record=15)
ARM_1GB = {"MemorySize": 1024, "Architectures": ["arm64"]}


def _resource(kind: str, **properties: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": properties}


IDLE_TEMPLATE = {
    "Resources": {
        "Single": _resource("AWS::CloudWatch::Alarm", MetricName="Errors", Period=300),
        "Math": _resource("AWS::CloudWatch::Alarm", Metrics=[
            {"Id": "rate", "Expression": "100 * e / c"},
            {"Id": "e", "MetricStat": {"Period": 300}}, {"Id": "c", "MetricStat": {"Period": 300}},
        ]),
        "Board": _resource("AWS::CloudWatch::Dashboard"),
        "Key": _resource("AWS::KMS::Key"),
        "Secret": _resource("AWS::SecretsManager::Secret"),
        "Poller": _resource("AWS::Lambda::Function", **ARM_1GB),
        "Schedule": _resource("AWS::Scheduler::Schedule", ScheduleExpression="rate(5 minutes)",
                              Target={"Arn": {"Fn::GetAtt": ["Poller", "Arn"]}}),
    }
}  # fmt: skip


def test_idle_cost_of_a_small_template_matches_the_hand_computed_figure() -> None:
    # By hand, a 720-hour month: rate(5 minutes) runs 720 * 60 / 5 = 8,640 times.
    alarms = 3 * 0.10  # a single-metric alarm, and a metric math alarm over 2 metrics
    fixed = 3.00 + 1.00 + 0.40  # dashboard, KMS key, secret
    scheduler = 8640 * 1.00 / 1e6
    requests = 8640 * 0.20 / 1e6
    duration = 8640 * 0.5 * 1.0 * 0.0000133334  # 0.5 s at 1 GB
    traces = 8640 * 5.00 / 1e6
    by_hand = alarms + fixed + scheduler + requests + duration + traces  # 4.81117

    result = estimate([IDLE_TEMPLATE], prices=PRICES, workload=WORKLOAD, size=SIZE)

    assert result.total("idle") == pytest.approx(by_hand, rel=1e-9)
    assert result.total() == pytest.approx(4.8111683, abs=1e-6)


def test_chat_cost_per_call_matches_the_hand_computed_figure() -> None:
    streaming = {"Variables": {"AWS_LWA_INVOKE_MODE": "response_stream"}}
    template = {"Resources": {"Chat": _resource("AWS::Lambda::Function", Environment=streaming, **ARM_1GB)}}
    # By hand: 1,000 calls a day for 30 days is 30,000 calls of 1 s + 540 / 60 s = 10 s each at 1 GB.
    api = 30_000 * 3.50 / 1e6
    lambda_requests = 30_000 * 0.20 / 1e6
    duration = 30_000 * 10 * 1.0 * 0.0000133334
    traces = 30_000 * 5.00 / 1e6  # under one call a second: the sampling reservoir records them all
    logs = 30_000 * (2000 + 1000) / 1024**3 * 0.50
    dynamodb = 30_000 * 2 * 0.125 / 1e6 + 30_000 * 6 * 0.625 / 1e6
    metrics = 15 * 2 * 0.30  # 15 metrics, per {Environment, Model, Route} and per {Environment}
    by_hand = api + lambda_requests + duration + traces + logs + dynamodb + metrics  # 13.42293

    result = estimate(
        [template], prices=PRICES, workload=WORKLOAD, size=SIZE, traffic=Traffic(calls_per_day=1000)
    )

    assert result.total("chat") == pytest.approx(by_hand, rel=1e-9)
    assert result.total("chat") == pytest.approx(13.4229295, abs=1e-6)


@pytest.mark.parametrize(
    ("expression", "runs"),
    [("rate(5 minutes)", 8640), ("rate(1 hour)", 720), ("rate(2 days)", 15), ("cron(5 0 * * ? *)", 30)],
)
def test_schedules_run_as_often_as_their_expression_says(expression: str, runs: float) -> None:
    assert runs_per_month(expression, 720) == pytest.approx(runs)


def test_every_shipped_price_cites_its_page_and_every_figure_its_basis() -> None:
    prices, workload = load_prices(), load_workload()

    assert all(
        prices.sources[price.source].startswith("https://aws.amazon.com/") for price in prices.prices.values()
    )
    figures = [*workload.chat_call.values(), *workload.batch_item.values(), *workload.idle.values()]
    labels = {figure.basis.split(":")[0] for figure in [*figures, *workload.xray_sampling.values()]}
    assert labels <= {"measured", "counted", "documented", "assumed"}


def test_telemetry_size_is_what_record_call_writes() -> None:
    size = measure()

    # What was captured is one EMF blob and one "Claude call" log line, and the size is their bytes
    blob, line = (json.loads(text) for text in size.output.splitlines())
    definitions = blob["_aws"]["CloudWatchMetrics"][0]
    assert size.metrics_per_record == len(definitions["Metrics"])
    assert definitions["Dimensions"] == [["Environment", "Model", "Route"], ["Environment"]]
    assert {"Calls", "InputTokens", "OutputTokens", "CostUSD", "LatencyMs"} <= {
        m["Name"] for m in definitions["Metrics"]
    }
    assert line["message"] == "Claude call"
    assert size.bytes_per_call == len(size.output.encode())


def test_custom_metrics_count_the_environment_aggregate_once() -> None:
    streaming = {"Variables": {"AWS_LWA_INVOKE_MODE": "response_stream"}}
    template = {"Resources": {
        "Chat": _resource("AWS::Lambda::Function", Environment=streaming, **ARM_1GB),
        "Queue": _resource("AWS::SQS::Queue"),
        "Consumer": _resource("AWS::Lambda::Function", **ARM_1GB),
        "Mapping": _resource(
            "AWS::Lambda::EventSourceMapping", BatchSize=10, FunctionName={"Ref": "Consumer"},
            EventSourceArn={"Fn::GetAtt": ["Queue", "Arn"]},
        ),
    }}  # fmt: skip
    batch_workload = Workload.model_validate({**WORKLOAD.model_dump(), "batch_item": _figures(
        sqs_requests=0.3, consumer_seconds_per_invocation=2, poller_seconds_per_item=0, other_log_bytes=0,
        dynamodb_read_units=0, dynamodb_write_units=0, s3_puts=1,
    )})  # fmt: skip
    traffic = Traffic(calls_per_day=100, batch_items_per_day=100)

    result = estimate([template], prices=PRICES, workload=batch_workload, size=SIZE, traffic=traffic)

    # 15 metrics per {Environment, Model, Route} for chat and for batch, and once per {Environment}: 45
    metrics = [line for line in result.lines if line.item.startswith("CloudWatch custom metrics")]
    assert sum(line.quantity for line in metrics) == 45
    # The idle queue's long polls: 15 receives a minute for the 720-hour month
    (polls,) = [line for line in result.lines if line.item == "SQS long polls of idle queues"]
    assert polls.quantity == 15 * 60 * 720
