"""One environment's monthly AWS cost, line by line, from its synthesized templates.

Three parts: `idle` is what the environment costs with no traffic (alarms, dashboard, keys, secrets, the
poller's schedule, SQS long polls, provisioned concurrency or SnapStart); `chat` and `batch` grow with calls
and items. Resource counts and sizes come from the template, per-call behaviour from data/workload.json (each
figure says whether it is measured, counted from the code, or assumed), prices from data/aws_prices.json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ops.cost.data_files import AwsPrices, Workload
from ops.cost.telemetry_size import TelemetrySize

Part = Literal["idle", "chat", "batch"]
GIB = 1024**3
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
#: Billed per metric per month from the first datapoint: fixed once any traffic flows, not per call.
FIXED_ONCE_ACTIVE = "CloudWatch custom metrics"


@dataclass(frozen=True)
class Line:
    part: Part
    item: str
    quantity: float
    unit: str
    usd: float


def charge(part: Part, item: str, quantity: float, unit: str, unit_price: float) -> Line:
    return Line(part, item, quantity, unit, quantity * unit_price)


@dataclass(frozen=True)
class Traffic:
    calls_per_day: float = 0
    batch_items_per_day: float = 0


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]

    def total(self, part: Part | None = None) -> float:
        return sum(line.usd for line in self.lines if part is None or line.part == part)


class Resources:
    """The resources of an environment's templates (all its stacks), by type."""

    def __init__(self, templates: Iterable[Mapping[str, Any]]) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}
        for template in templates:
            self._by_id.update(template.get("Resources", {}))

    def of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {lid: r.get("Properties", {}) for lid, r in self._by_id.items() if r.get("Type") == kind}

    def referenced(self, reference: Any, kind: str) -> dict[str, Any] | None:
        """Properties of the `kind` resource a `Ref` / `Fn::GetAtt` points at (how templates name targets)."""
        if isinstance(reference, dict):
            target = reference.get("Ref") or (reference.get("Fn::GetAtt") or [None])[0]
            resource = self._by_id.get(str(target))
            if resource and resource.get("Type") == kind:
                return dict(resource.get("Properties", {}))
        return None

    def function(self, reference: Any) -> dict[str, Any] | None:
        return self.referenced(reference, "AWS::Lambda::Function")

    def sqs_event_sources(self) -> list[dict[str, Any]]:
        return [
            mapping
            for mapping in self.of("AWS::Lambda::EventSourceMapping").values()
            if self.referenced(mapping.get("EventSourceArn"), "AWS::SQS::Queue") is not None
        ]

    def chat_function(self) -> dict[str, Any] | None:
        return next(
            (f for f in self.of("AWS::Lambda::Function").values() if _env(f, "AWS_LWA_INVOKE_MODE")), None
        )


def _env(function: Mapping[str, Any], name: str) -> Any:
    return function.get("Environment", {}).get("Variables", {}).get(name)


def _gb(function: Mapping[str, Any]) -> float:
    return float(function.get("MemorySize", 128)) / 1024


def _gb_second_price(function: Mapping[str, Any], prices: AwsPrices) -> float:
    arm = "arm64" in function.get("Architectures", ["x86_64"])
    return prices["lambda_arm64_gb_second"] if arm else prices["lambda_x86_gb_second"]


def runs_per_month(expression: str, hours_per_month: float) -> float:
    """How often a `rate(...)` or a daily `cron(M H * * ? *)` schedule fires in a month."""
    if match := _RATE.match(expression):
        minutes = int(match.group(1)) * _MINUTES[match.group(2).rstrip("s")]
        return hours_per_month * 60 / minutes
    if expression.startswith("cron(") and expression.split()[2:4] == ["*", "*"]:
        return hours_per_month / 24
    raise ValueError(f"cannot tell how often {expression!r} runs")


def _alarm_metrics(alarm: Mapping[str, Any]) -> int:
    """CloudWatch bills an alarm per metric it evaluates: a metric math alarm per metric in its expression."""
    if "MetricName" in alarm:
        return 1
    return sum(1 for query in alarm.get("Metrics", []) if "MetricStat" in query) or 1


def _sampled_fraction(per_day: float, workload: Workload) -> float:
    """X-Ray's default rule records the first request each second and 5 % of the rest."""
    if per_day <= 0:
        return 0.0
    per_second = per_day / 86_400
    reservoir = workload.xray_sampling["reservoir_per_second"].value
    rate = workload.xray_sampling["rate"].value
    recorded = min(per_second, reservoir) + rate * max(per_second - reservoir, 0)
    return recorded / per_second


def _invocations(
    part: Part,
    name: str,
    runs: float,
    function: Mapping[str, Any],
    seconds: float,
    prices: AwsPrices,
    traced: float = 1.0,
) -> list[Line]:
    """Requests, GB-seconds and X-Ray traces of `runs` invocations lasting `seconds` each."""
    return [
        charge(part, f"{name}: Lambda requests", runs, "requests", prices["lambda_requests_per_million"]),
        charge(
            part,
            f"{name}: Lambda duration ({seconds:g} s each)",
            runs * seconds * _gb(function),
            "GB-s",
            _gb_second_price(function, prices),
        ),
        charge(
            part, f"{name}: X-Ray traces", runs * traced, "traces", prices["xray_traces_recorded_per_million"]
        ),
    ]


def idle_lines(resources: Resources, prices: AwsPrices, workload: Workload) -> list[Line]:
    hours, idle = workload.hours_per_month, workload.idle
    alarms = resources.of("AWS::CloudWatch::Alarm").values()
    standard = sum(_alarm_metrics(a) for a in alarms if int(a.get("Period", 60)) >= 60)
    high_resolution = sum(_alarm_metrics(a) for a in alarms if int(a.get("Period", 60)) < 60)
    lines = [
        charge(
            "idle", "CloudWatch alarms", standard, "alarm metrics", prices["cloudwatch_alarm_metric_month"]
        ),
        charge(
            "idle",
            "CloudWatch high-resolution alarms",
            high_resolution,
            "alarm metrics",
            prices["cloudwatch_high_resolution_alarm_metric_month"],
        ),
        charge(
            "idle",
            "CloudWatch dashboards",
            len(resources.of("AWS::CloudWatch::Dashboard")),
            "dashboards",
            prices["cloudwatch_dashboard_month"],
        ),
        charge("idle", "KMS keys", len(resources.of("AWS::KMS::Key")), "keys", prices["kms_key_month"]),
        charge(
            "idle",
            "Secrets Manager secrets",
            len(resources.of("AWS::SecretsManager::Secret")),
            "secrets",
            prices["secret_month"],
        ),
    ]
    # Scheduled invocations: the batch poller (Scheduler), the spend guard's daily reopen (EventBridge rule).
    for schedule in resources.of("AWS::Scheduler::Schedule").values():
        runs = runs_per_month(schedule["ScheduleExpression"], hours)
        lines.append(
            charge(
                "idle",
                "EventBridge Scheduler invocations",
                runs,
                "invocations",
                prices["scheduler_invocations_per_million"],
            )
        )
        if (function := resources.function(schedule.get("Target", {}).get("Arn"))) is not None:
            lines += _invocations("idle", "Poller", runs, function, idle["poller_idle_seconds"].value, prices)
    for rule in resources.of("AWS::Events::Rule").values():
        for target in rule.get("Targets", []) if "ScheduleExpression" in rule else []:
            if (function := resources.function(target.get("Arn"))) is not None:
                runs = runs_per_month(rule["ScheduleExpression"], hours)
                seconds = idle["guard_invocation_seconds"].value
                lines += _invocations("idle", "Scheduled rule target", runs, function, seconds, prices)

    receives = len(resources.sqs_event_sources()) * idle["sqs_idle_receives_per_minute"].value * 60 * hours
    lines.append(
        charge(
            "idle", "SQS long polls of idle queues", receives, "requests", prices["sqs_requests_per_million"]
        )
    )

    seconds_per_month = hours * 3600
    for alias in resources.of("AWS::Lambda::Alias").values():
        provisioned = alias.get("ProvisionedConcurrencyConfig", {}).get("ProvisionedConcurrentExecutions", 0)
        if provisioned and (function := resources.function(alias.get("FunctionName"))) is not None:
            lines.append(
                charge(
                    "idle",
                    "Provisioned concurrency",
                    provisioned * _gb(function) * seconds_per_month,
                    "GB-s",
                    prices["lambda_arm64_provisioned_gb_second"],
                )
            )
    for function in resources.of("AWS::Lambda::Function").values():
        if function.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions":
            # One published version's snapshot stays cached all month.
            lines.append(
                charge(
                    "idle",
                    "SnapStart snapshot cache",
                    _gb(function) * seconds_per_month,
                    "GB-s",
                    prices["lambda_snapstart_cache_gb_second"],
                )
            )
    return [line for line in lines if line.quantity]


def _custom_metrics_line(part: Part, size: TelemetrySize, prices: AwsPrices, *, with_aggregate: bool) -> Line:
    """Each metric exists per {Environment, Model, Route} (one model assumed) and once per {Environment}."""
    series = size.metrics_per_record * (2 if with_aggregate else 1)
    return charge(
        part,
        f"{FIXED_ONCE_ACTIVE} (EMF, once traffic flows)",
        series,
        "metrics",
        prices["cloudwatch_custom_metric_month"],
    )


def _per_item(
    part: Part, count: float, figures: Mapping[str, float], size: TelemetrySize, prices: AwsPrices
) -> list[Line]:
    """Lines every call or item pays alike: its log bytes and its DynamoDB request units."""
    log_gib = count * (size.bytes_per_call + figures["other_log_bytes"]) / GIB
    return [
        charge(part, "CloudWatch Logs ingestion", log_gib, "GiB", prices["logs_ingestion_gb"]),
        charge(
            part,
            "DynamoDB reads",
            count * figures["dynamodb_read_units"],
            "RRU",
            prices["dynamodb_read_request_units_per_million"],
        ),
        charge(
            part,
            "DynamoDB writes",
            count * figures["dynamodb_write_units"],
            "WRU",
            prices["dynamodb_write_request_units_per_million"],
        ),
    ]


def chat_lines(
    resources: Resources, prices: AwsPrices, workload: Workload, size: TelemetrySize, calls_per_day: float
) -> list[Line]:
    function = resources.chat_function()
    if function is None or calls_per_day <= 0:
        return []
    figures = {name: figure.value for name, figure in workload.chat_call.items()}
    calls = calls_per_day * workload.hours_per_month / 24
    # The chat function is billed for the whole stream: Claude's time to first token and its generation.
    seconds = (
        figures["time_to_first_token_seconds"]
        + figures["output_tokens"] / figures["output_tokens_per_second"]
        + figures["kit_overhead_seconds"]
    )
    traced = _sampled_fraction(calls_per_day, workload)
    return [
        charge(
            "chat",
            "API Gateway REST requests",
            calls,
            "requests",
            prices["apigateway_rest_requests_per_million"],
        ),
        *_invocations("chat", "Chat", calls, function, round(seconds, 2), prices, traced),
        *_per_item("chat", calls, figures, size, prices),
        _custom_metrics_line("chat", size, prices, with_aggregate=True),
    ]


def batch_lines(
    resources: Resources,
    prices: AwsPrices,
    workload: Workload,
    size: TelemetrySize,
    items_per_day: float,
    *,
    chat_active: bool = False,
) -> list[Line]:
    mappings = resources.sqs_event_sources()
    if not mappings or items_per_day <= 0:
        return []
    mapping = mappings[0]  # the first queue stands for all: every queue has the same shape
    consumer = resources.function(mapping.get("FunctionName")) or {}
    schedules = resources.of("AWS::Scheduler::Schedule").values()
    poller = next(
        (f for s in schedules if (f := resources.function(s.get("Target", {}).get("Arn")))), consumer
    )
    figures = {name: figure.value for name, figure in workload.batch_item.items()}
    items = items_per_day * workload.hours_per_month / 24
    invocations = items / int(mapping.get("BatchSize", 10))
    traced = _sampled_fraction(invocations * 24 / workload.hours_per_month, workload)
    return [
        charge(
            "batch",
            "SQS requests",
            items * figures["sqs_requests"],
            "requests",
            prices["sqs_requests_per_million"],
        ),
        *_invocations(
            "batch",
            "Consumer",
            invocations,
            consumer,
            figures["consumer_seconds_per_invocation"],
            prices,
            traced,
        ),
        charge(
            "batch",
            "Poller: Lambda duration collecting results",
            items * figures["poller_seconds_per_item"] * _gb(poller),
            "GB-s",
            _gb_second_price(poller, prices),
        ),
        *_per_item("batch", items, figures, size, prices),
        charge(
            "batch",
            "S3 PUT requests",
            items * figures["s3_puts"],
            "requests",
            prices["s3_put_requests_per_thousand"],
        ),
        _custom_metrics_line("batch", size, prices, with_aggregate=not chat_active),
    ]


def estimate(
    templates: Iterable[Mapping[str, Any]],
    *,
    prices: AwsPrices,
    workload: Workload,
    size: TelemetrySize,
    traffic: Traffic = Traffic(),
) -> Estimate:
    resources = Resources(templates)
    lines = idle_lines(resources, prices, workload)
    chat = chat_lines(resources, prices, workload, size, traffic.calls_per_day)
    batch = batch_lines(
        resources, prices, workload, size, traffic.batch_items_per_day, chat_active=bool(chat)
    )
    return Estimate(tuple(lines + chat + batch))
