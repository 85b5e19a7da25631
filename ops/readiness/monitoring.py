"""Readiness items that watch and scale: observability, scalability, and the release gate (offline)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from claude_kit import contract
from ops.readiness.check_base import make_item
from ops.readiness.report import Dimension, Item, Status
from ops.readiness.template_view import TemplateView, short_id
from ops.synthesis import REPO_ROOT

# Observability


def _alarms_item(view: TemplateView, check_id: str, title: str, slugs: Sequence[str]) -> Item:
    subscribed = view.human_subscriptions()
    missing, silent = [], []
    for slug in slugs:
        alarm = view.alarm(slug)
        if alarm is None:
            missing.append(slug)
        elif not any(topic in subscribed for topic in view.notified_topics(alarm)):
            silent.append(slug)
    if missing:
        return make_item(
            check_id,
            Dimension.OBSERVABILITY,
            title,
            Status.FAIL,
            f"no alarm {', '.join(missing)}",
            "keep infra/constructs/cost_alarms.py and service_alarms.py in the stack",
        )
    if silent:
        return make_item(
            check_id,
            Dimension.OBSERVABILITY,
            title,
            Status.FAIL,
            f"alarms {', '.join(silent)} notify a topic nobody is subscribed to",
            "add alerts.emails or alerts.https_subscriptions (PagerDuty, Opsgenie) in cdk.json",
        )
    protocols = sorted({p for topic in subscribed.values() for p in topic})
    return make_item(
        check_id,
        Dimension.OBSERVABILITY,
        title,
        Status.PASS,
        f"{', '.join(slugs)} notify a topic with {', '.join(protocols)} subscribers",
    )


def cost_alarms(view: TemplateView) -> Item:
    return _alarms_item(view, "cost-alarms", "Cost alarms reach a person", ("daily-cost", "cost-burn-rate"))


def service_alarms(view: TemplateView) -> Item:
    return _alarms_item(
        view,
        "service-alarms",
        "Error-rate and latency alarms reach a person",
        ("error-rate", "latency-p99", "ttft-p95"),
    )


def tracing(view: TemplateView) -> Item:
    title = "Tracing: X-Ray and per-user call records"
    untraced = [
        f.name for f in view.functions() if f.properties.get("TracingConfig", {}).get("Mode") != "Active"
    ]
    stages = view.resources("AWS::ApiGateway::Stage")
    untraced += [
        f"stage {props.get('StageName')}" for props in stages.values() if not props.get("TracingEnabled")
    ]
    if untraced:
        return make_item(
            "tracing",
            Dimension.OBSERVABILITY,
            title,
            Status.FAIL,
            f"no X-Ray tracing on {', '.join(untraced)}",
            "build functions with infra.lambda_function.kit_python_function (tracing ACTIVE)",
        )
    return make_item(
        "tracing",
        Dimension.OBSERVABILITY,
        title,
        Status.PASS,
        f"X-Ray active on {len(view.functions())} functions and {len(stages)} API stage; each call record "
        "carries user_id and request_id (Logs Insights: cost by user)",
    )


def dashboard(view: TemplateView) -> Item:
    title = "Dashboard of the key metrics"
    boards = view.resources("AWS::CloudWatch::Dashboard")
    if not boards:
        return make_item(
            "dashboard",
            Dimension.OBSERVABILITY,
            title,
            Status.WARN,
            "no CloudWatch dashboard",
            "keep infra/constructs/dashboard.py in the stack",
        )
    names = [str(props.get("DashboardName", lid)) for lid, props in boards.items()]
    return make_item(
        "dashboard", Dimension.OBSERVABILITY, title, Status.PASS, f"CloudWatch dashboard {', '.join(names)}"
    )


# Scalability


def api_auth_and_throttling(view: TemplateView) -> Item:
    title = "API authentication and throttling"
    methods = view.resources("AWS::ApiGateway::Method")
    # The chat page's and the docs' routes (chat.web_page, chat.api_docs) are open on purpose, each
    # throttled by the stage instead of a usage plan: an open method passes only when the stage throttles it.
    stage_throttled = {
        (setting.get("ResourcePath"), setting.get("HttpMethod"))
        for stage in view.resources("AWS::ApiGateway::Stage").values()
        for setting in stage.get("MethodSettings", [])
        if setting.get("ThrottlingRateLimit")
    }
    open_methods = [
        short_id(lid)
        for lid, props in methods.items()
        if props.get("HttpMethod") != "OPTIONS"
        and not props.get("ApiKeyRequired")
        and props.get("AuthorizationType", "NONE") == "NONE"
        and (_resource_path(view, props.get("ResourceId")), props.get("HttpMethod")) not in stage_throttled
    ]
    plans = view.resources("AWS::ApiGateway::UsagePlan").values()
    throttled = [
        p for p in plans if p.get("Throttle", {}).get("RateLimit") and p.get("Quota", {}).get("Limit")
    ]
    chat = view.synthesized.config.chat
    if open_methods or not throttled:
        return make_item(
            "api-auth-throttling",
            Dimension.SCALABILITY,
            title,
            Status.FAIL,
            f"methods without auth: {', '.join(open_methods) or '-'}; "
            f"throttled usage plans: {len(throttled)}",
            "route every method through ChatApi.add_app_route (API key or Cognito, usage plan)",
        )
    auth = "Cognito user pool + API key" if chat.cognito_enabled else "API key"
    return make_item(
        "api-auth-throttling",
        Dimension.SCALABILITY,
        title,
        Status.PASS,
        f"{len(methods) - len(stage_throttled)} methods need an {auth}"
        f" ({len(stage_throttled)} browser routes open, throttled by the stage); usage plan "
        f"{chat.throttle_rate_per_second:g} req/s, burst {chat.throttle_burst}, "
        f"{chat.daily_request_quota} requests/day",
    )


def _resource_path(view: TemplateView, resource_id: object) -> str:
    """A method's resource path as a stage's MethodSettings write it: `/` for the root, else `/` followed by
    the path with each `/` as `~1` (`/~1ui~1{proxy+}`)."""
    resources = view.resources("AWS::ApiGateway::Resource")
    parts: list[str] = []
    while isinstance(resource_id, dict) and resource_id.get("Ref") in resources:
        props = resources[resource_id["Ref"]]
        parts.insert(0, str(props.get("PathPart")))
        resource_id = props.get("ParentId")
    return "/" + "~1".join(["", *parts]) if parts else "/"


def rate_limit_handling(view: TemplateView) -> Item:
    title = "Rate limits under concurrency"
    config = view.synthesized.config
    throttles = view.alarm("throttles")
    queues = ", ".join(f"{q.name} <= {q.max_concurrency}" for q in config.batch.queues)
    evidence = (
        f"429s retried with retry-after; throttles alarm {'present' if throttles else 'missing'}; "
        f"batch consumers' max concurrency {queues}; "
        f"chat reserved concurrency {config.chat.reserved_concurrency}"
    )
    if throttles is None:
        return make_item(
            "rate-limit-handling",
            Dimension.SCALABILITY,
            title,
            Status.FAIL,
            evidence,
            "keep the throttles alarm (infra/constructs/service_alarms.py)",
        )
    if config.chat.reserved_concurrency is None:
        return make_item(
            "rate-limit-handling",
            Dimension.SCALABILITY,
            title,
            Status.WARN,
            evidence,
            "set chat.reserved_concurrency so a burst cannot outrun your Anthropic rate limit",
        )
    return make_item("rate-limit-handling", Dimension.SCALABILITY, title, Status.PASS, evidence)


def batch_queues(view: TemplateView) -> Item:
    title = "Queue, dead-letter queue and their alarms"
    env_name = view.synthesized.env_name
    queues = view.resources("AWS::SQS::Queue")
    problems, names = [], []
    for queue in view.synthesized.config.batch.queues:
        name = contract.queue_name(env_name, queue.name)
        names.append(name)
        props = next((p for p in queues.values() if p.get("QueueName") == name), None)
        if props is None or "RedrivePolicy" not in props:
            problems.append(f"{name} has no dead-letter queue")
        if view.alarm(f"queue-{queue.name}-DLQ-Queue-Message-Count-Max-Critical") is None:
            problems.append(f"{name}-dlq has no alarm")
    if problems:
        return make_item(
            "batch-queues",
            Dimension.SCALABILITY,
            title,
            Status.FAIL,
            "; ".join(problems),
            "build queues with infra/constructs/batch_queues.py and monitor them in observability.py",
        )
    return make_item(
        "batch-queues",
        Dimension.SCALABILITY,
        title,
        Status.PASS,
        f"{', '.join(names)}: each with a DLQ (alarm on any message) and an oldest-message alarm",
    )


# Release


def eval_baseline(view: TemplateView, *, root: Path = REPO_ROOT) -> Item:
    title = "An eval baseline to gate releases"
    path = root / "evals" / "baselines" / f"{view.synthesized.env_name}.json"
    relative = path.relative_to(root)
    if not path.is_file():
        return make_item(
            "eval-baseline",
            Dimension.RELEASE,
            title,
            Status.WARN,
            f"{relative} does not exist",
            f"record one (bin/kit eval --env {view.synthesized.env_name} --save-baseline) and commit it",
        )
    return make_item(
        "eval-baseline", Dimension.RELEASE, title, Status.PASS, f"{relative} ({path.stat().st_size} bytes)"
    )
