"""The readiness items judged offline: from validated cdk.json settings and the synthesized templates.

Each check answers one question a team asks before launch, names the resource or setting that answers it, and
says in one line how to fix a miss. A miss that lets money, keys or outages go unnoticed is a fail; a
choice that is fine for some environments (no reserved concurrency, no per-user allowance) is a warn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from claude_kit.pricing import load_price_table
from claude_kit.settings import RuntimeSettings
from infra.constructs.api_key_secret import api_key_secret_name
from infra.lambda_function import METRICS_NAMESPACE
from ops.readiness.report import Dimension, Item, Status
from ops.readiness.template_view import TemplateView, short_id
from ops.synthesis import REPO_ROOT, SynthesizedEnvironment

Check = Callable[[TemplateView], Item]
#: What an Anthropic key looks like (`sk-ant-api03-…`, admin keys `sk-ant-admin01-…`).
_KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}")
_KEY_VARIABLE = re.compile(r"(API_KEY|AUTH_TOKEN)$")
_DEFAULTS = RuntimeSettings.model_fields


def _default(name: str) -> object:
    return _DEFAULTS[name].default


def _item(
    check_id: str, dimension: Dimension, title: str, status: Status, evidence: str, fix: str = ""
) -> Item:
    return Item(check_id, dimension, title, status, evidence, "" if status is Status.PASS else fix)


# Security


def api_key_secret(view: TemplateView) -> Item:
    title = "API key in a per-environment secret"
    config, env_name = view.synthesized.config, view.synthesized.env_name
    functions = view.claude_functions()
    names = {function.setting("KIT_API_KEY_SECRET_NAME") for function in functions}
    fix = (
        "keep the key in Secrets Manager: leave secret.existing_secret_name unset, or name this env's secret"
    )
    if not functions or len(names) != 1:
        return _item(
            "api-key-secret",
            Dimension.SECURITY,
            title,
            Status.FAIL,
            f"Claude-calling functions read secrets {sorted(map(str, names))}",
            fix,
        )
    name = names.pop()
    secrets = view.resources("AWS::SecretsManager::Secret")
    created = any(props.get("Name") == name for props in secrets.values())
    where = "created by the stack" if created else "imported (secret.existing_secret_name)"
    evidence = f"{len(functions)} Claude-calling functions read Secrets Manager secret {name} ({where})"
    if config.secret.existing_secret_name is None and name != api_key_secret_name(env_name):
        return _item("api-key-secret", Dimension.SECURITY, title, Status.FAIL, evidence, fix)
    return _item("api-key-secret", Dimension.SECURITY, title, Status.PASS, evidence)


def no_key_in_environment(view: TemplateView) -> Item:
    title = "No API key in environment variables or cdk.json"
    leaks = [
        f"{function.name}.{name}"
        for function in view.functions()
        for name, value in function.environment.items()
        if _KEY_VARIABLE.search(name) or (isinstance(value, str) and _KEY_PATTERN.search(value))
    ]
    cdk_json = REPO_ROOT / "cdk.json"
    if cdk_json.exists() and _KEY_PATTERN.search(cdk_json.read_text()):
        leaks.append("cdk.json")
    if leaks:
        return _item(
            "no-key-in-environment",
            Dimension.SECURITY,
            title,
            Status.FAIL,
            f"key-like values or variables in {', '.join(leaks)}",
            "remove the key, revoke it in the Anthropic Console and store a new one in the secret",
        )
    count = sum(len(function.environment) for function in view.functions())
    return _item(
        "no-key-in-environment",
        Dimension.SECURITY,
        title,
        Status.PASS,
        f"{count} environment variables of {len(view.functions())} functions and cdk.json hold no key",
    )


def key_per_environment(view: TemplateView) -> Item:
    title = "A separate key per environment"
    env_name = view.synthesized.env_name

    def secret_of(name: str) -> str:
        config = view.synthesized.config if name == env_name else view.synthesized.all_configs[name]
        configured = config.secret.existing_secret_name
        return configured or api_key_secret_name(name)

    own = secret_of(env_name)
    shared = [name for name in view.synthesized.all_configs if name != env_name and secret_of(name) == own]
    if shared:
        return _item(
            "key-per-environment",
            Dimension.SECURITY,
            title,
            Status.FAIL,
            f"secret {own} is also used by {', '.join(shared)}",
            "give each environment its own secret (and its own key from the Anthropic Console)",
        )
    return _item(
        "key-per-environment",
        Dimension.SECURITY,
        title,
        Status.PASS,
        f"{own} is used by no other environment of cdk.json",
    )


def anthropic_spend_limit(view: TemplateView) -> Item:
    title = "Anthropic workspace spend limit"
    limit = view.synthesized.config.claude.workspace_spend_limit_usd
    if limit is None:
        return _item(
            "anthropic-spend-limit",
            Dimension.SECURITY,
            title,
            Status.FAIL,
            "claude.workspace_spend_limit_usd is not recorded (no API reads the Console's limit)",
            "set a monthly spend limit on this environment's workspace in the Anthropic Console, then "
            "record it as claude.workspace_spend_limit_usd in cdk.json",
        )
    return _item(
        "anthropic-spend-limit",
        Dimension.SECURITY,
        title,
        Status.PASS,
        f"attested in cdk.json: {limit:g} USD per month (claude.workspace_spend_limit_usd)",
    )


# Reliability


def retry_policy(view: TemplateView) -> Item:
    title = "Retry policy on every Claude call"
    attempts = {
        f.setting("KIT_RATE_LIMIT_MAX_ATTEMPTS") or str(_default("rate_limit_max_attempts"))
        for f in view.claude_functions()
    }
    evidence = (
        f"claude_kit.retry on {len(view.claude_functions())} functions: 429 up to "
        f"{'/'.join(sorted(attempts))} attempts with retry-after or jittered backoff "
        f"({_default('retry_base_seconds')} s base, "
        f"{_default('retry_max_backoff_seconds')} s cap); 5xx, 529 and timeouts once"
    )
    if attempts & {"1", "0"}:
        return _item(
            "retry-policy",
            Dimension.RELIABILITY,
            title,
            Status.FAIL,
            evidence,
            "do not set KIT_RATE_LIMIT_MAX_ATTEMPTS below 2",
        )
    return _item("retry-policy", Dimension.RELIABILITY, title, Status.PASS, evidence)


def timeouts(view: TemplateView) -> Item:
    title = "Timeouts inside each function's limit"
    read = float(str(_default("read_timeout_seconds")))
    stream = float(str(_default("stream_read_timeout_seconds")))
    connect = float(str(_default("connect_timeout_seconds")))
    # The chat function relays streams (silent for up to `stream`); the others wait for whole answers.
    short = [
        f"{f.name} ({f.timeout_seconds} s)"
        for f in view.claude_functions()
        if f.timeout_seconds <= (stream if f.setting("AWS_LWA_INVOKE_MODE") else read)
    ]
    evidence = (
        f"Claude client: connect {connect:g} s, read {read:g} s, stream silence {stream:g} s; "
        f"function timeouts {sorted({f.timeout_seconds for f in view.claude_functions()})} s"
    )
    if short:
        return _item(
            "timeouts", Dimension.RELIABILITY, title, Status.FAIL,
            f"{evidence}; no longer than one Claude wait: {', '.join(short)}",
            "raise chat.timeout_seconds / batch.queues[].consumer_timeout_seconds above the wait",
        )  # fmt: skip
    return _item("timeouts", Dimension.RELIABILITY, title, Status.PASS, evidence)


def fallback_model(view: TemplateView) -> Item:
    title = "Fallback model"
    claude = view.synthesized.config.claude
    fallback = claude.fallback_model
    if fallback is None:
        return _item(
            "fallback-model",
            Dimension.RELIABILITY,
            title,
            Status.FAIL,
            f"claude.fallback_model is null: an overloaded {claude.model} fails the call",
            'set claude.fallback_model (e.g. "claude-haiku-5-5") in cdk.json',
        )
    missing = [f.name for f in view.claude_functions() if f.setting("KIT_FALLBACK_MODEL") != fallback]
    if missing:
        return _item(
            "fallback-model",
            Dimension.RELIABILITY,
            title,
            Status.FAIL,
            f"KIT_FALLBACK_MODEL missing on {', '.join(missing)}",
            "build every Claude-calling function with infra.lambda_function.claude_environment",
        )
    return _item(
        "fallback-model",
        Dimension.RELIABILITY,
        title,
        Status.PASS,
        f"{claude.model} falls back to {fallback} (KIT_FALLBACK_MODEL on every Claude-calling function)",
    )


# Cost control


def context_limits(view: TemplateView) -> Item:
    title = "Context window and output limits"
    claude = view.synthesized.config.claude
    unset = [
        f.name
        for f in view.claude_functions()
        if not all(f.setting(k) for k in ("KIT_CONTEXT_MAX_TOKENS", "KIT_MAX_TOKENS_CAP"))
    ]
    evidence = (
        f"max_tokens capped at {claude.max_tokens_cap}; context trimmed to {claude.context_max_turns} "
        f"turns / {claude.context_max_tokens} tokens"
    )
    if unset:
        return _item(
            "context-limits",
            Dimension.COST,
            title,
            Status.FAIL,
            f"limits missing on {', '.join(unset)}",
            "build every Claude-calling function with infra.lambda_function.claude_environment",
        )
    return _item("context-limits", Dimension.COST, title, Status.PASS, evidence)


def prompt_caching(view: TemplateView) -> Item:
    title = "Prompt caching on, prompts above the minimum"
    off = [
        f.name
        for f in view.claude_functions()
        if (f.setting("KIT_PROMPT_CACHING") or "true").lower() == "false"
    ]
    if off:
        return _item(
            "prompt-caching",
            Dimension.COST,
            title,
            Status.FAIL,
            f"KIT_PROMPT_CACHING=false on {', '.join(off)} (claude.prompt_caching)",
            "set claude.prompt_caching to true: repeated prompt prefixes are billed at the cache-read price",
        )
    table = load_price_table(view.synthesized.config.claude.price_overrides)
    model = view.synthesized.config.claude.model
    pricing = table.lookup(model)
    minimum = table.min_cacheable_tokens(model)
    evidence = (
        f"claude_kit.prompt_cache marks system prompts and conversation prefixes of at least {minimum} "
        f"tokens ({model})"
    )
    if pricing is None or pricing.min_cacheable_tokens is None:
        return _item(
            "prompt-caching",
            Dimension.COST,
            title,
            Status.WARN,
            f"{evidence}; {model}'s minimum is not published, so {minimum} is the table's default",
            "confirm caching works: CacheReadInputTokens > 0 on the dashboard after a few repeated calls",
        )
    return _item("prompt-caching", Dimension.COST, title, Status.PASS, evidence)


def token_usage_logged(view: TemplateView) -> Item:
    title = "Per-call telemetry (tokens, cost, latency)"
    bad = [
        f"{f.name} ({reason})"
        for f in view.claude_functions()
        for reason in (
            "metrics disabled" if (f.setting("POWERTOOLS_METRICS_DISABLED") or "").lower() == "true" else "",
            f"namespace {f.setting('POWERTOOLS_METRICS_NAMESPACE')}"
            if f.setting("POWERTOOLS_METRICS_NAMESPACE") != METRICS_NAMESPACE
            else "",
            f"log level {f.setting('POWERTOOLS_LOG_LEVEL')} hides the call log"
            if f.setting("POWERTOOLS_LOG_LEVEL") in {"WARNING", "ERROR", "CRITICAL"}
            else "",
        )
        if reason
    ]
    if bad:
        return _item(
            "token-usage-logged",
            Dimension.COST,
            title,
            Status.FAIL,
            "; ".join(bad),
            'keep log_level at "INFO" or "DEBUG" and metrics on: alarms and the spend guard read them',
        )
    return _item(
        "token-usage-logged",
        Dimension.COST,
        title,
        Status.PASS,
        f"{len(view.claude_functions())} Claude-calling functions emit one EMF record and one log line per "
        f"call to namespace {METRICS_NAMESPACE} (log level {view.synthesized.config.log_level})",
    )


def spend_guard(view: TemplateView) -> Item:
    title = "Spend guard and its brakes"
    alerts, env_name = view.synthesized.config.alerts, view.synthesized.env_name
    if not alerts.spend_guard_enabled:
        return _item(
            "spend-guard",
            Dimension.COST,
            title,
            Status.FAIL,
            "alerts.spend_guard_enabled is false: nothing stops calls when the budget is spent",
            "set alerts.spend_guard_enabled to true",
        )
    unguarded = [f.name for f in view.claude_functions() if not f.setting("KIT_SPEND_SWITCH_PARAMETER")]
    unguarded = [name for name in unguarded if "Poller" not in name]  # collects results already paid for
    daily = view.alarm("daily-cost")
    budgets = view.resources("AWS::Budgets::Budget")
    brakes = []
    if daily is not None:
        brakes.append(f"daily-cost alarm > {alerts.daily_cost_threshold_usd:g} USD")
    if budgets:
        brakes.append(f"budget claude-kit-{env_name} ({alerts.monthly_budget_usd:g} USD/month)")
    evidence = f"switch /claude-kit/{env_name}/spend-switch closed by: {', '.join(brakes) or 'nothing'}"
    if unguarded or len(brakes) < 2:
        return _item(
            "spend-guard",
            Dimension.COST,
            title,
            Status.FAIL,
            f"{evidence}; not checking the switch: {', '.join(unguarded) or '-'}",
            "attach the spend guard to every Claude-calling function (infra/stack.py)",
        )
    if alerts.user_daily_usd_allowance is None and alerts.user_daily_token_allowance is None:
        return _item(
            "spend-guard",
            Dimension.COST,
            title,
            Status.WARN,
            f"{evidence}; no per-user daily allowance: one user can spend the whole day's budget",
            "set alerts.user_daily_usd_allowance",
        )
    return _item(
        "spend-guard",
        Dimension.COST,
        title,
        Status.PASS,
        f"{evidence}; per-user allowance {alerts.user_daily_usd_allowance} USD/day",
    )


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
        return _item(
            check_id,
            Dimension.OBSERVABILITY,
            title,
            Status.FAIL,
            f"no alarm {', '.join(missing)}",
            "keep infra/constructs/cost_alarms.py and service_alarms.py in the stack",
        )
    if silent:
        return _item(
            check_id,
            Dimension.OBSERVABILITY,
            title,
            Status.FAIL,
            f"alarms {', '.join(silent)} notify a topic nobody is subscribed to",
            "add alerts.emails or alerts.https_subscriptions (PagerDuty, Opsgenie) in cdk.json",
        )
    protocols = sorted({p for topic in subscribed.values() for p in topic})
    return _item(
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
        return _item(
            "tracing",
            Dimension.OBSERVABILITY,
            title,
            Status.FAIL,
            f"no X-Ray tracing on {', '.join(untraced)}",
            "build functions with infra.lambda_function.kit_python_function (tracing ACTIVE)",
        )
    return _item(
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
        return _item(
            "dashboard",
            Dimension.OBSERVABILITY,
            title,
            Status.WARN,
            "no CloudWatch dashboard",
            "keep infra/constructs/dashboard.py in the stack",
        )
    names = [str(props.get("DashboardName", lid)) for lid, props in boards.items()]
    return _item(
        "dashboard", Dimension.OBSERVABILITY, title, Status.PASS, f"CloudWatch dashboard {', '.join(names)}"
    )


# Scalability


def api_auth_and_throttling(view: TemplateView) -> Item:
    title = "API authentication and throttling"
    methods = view.resources("AWS::ApiGateway::Method")
    open_methods = [
        short_id(lid)
        for lid, props in methods.items()
        if props.get("HttpMethod") != "OPTIONS"
        and not props.get("ApiKeyRequired")
        and props.get("AuthorizationType", "NONE") == "NONE"
    ]
    plans = view.resources("AWS::ApiGateway::UsagePlan").values()
    throttled = [
        p for p in plans if p.get("Throttle", {}).get("RateLimit") and p.get("Quota", {}).get("Limit")
    ]
    chat = view.synthesized.config.chat
    if open_methods or not throttled:
        return _item(
            "api-auth-throttling",
            Dimension.SCALABILITY,
            title,
            Status.FAIL,
            f"methods without auth: {', '.join(open_methods) or '-'}; "
            f"throttled usage plans: {len(throttled)}",
            "route every method through ChatApi.add_app_route (API key or Cognito, usage plan)",
        )
    auth = "Cognito user pool + API key" if chat.cognito_enabled else "API key"
    return _item(
        "api-auth-throttling",
        Dimension.SCALABILITY,
        title,
        Status.PASS,
        f"{len(methods)} methods need an {auth}; usage plan {chat.throttle_rate_per_second:g} req/s, burst "
        f"{chat.throttle_burst}, {chat.daily_request_quota} requests/day",
    )


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
        return _item(
            "rate-limit-handling",
            Dimension.SCALABILITY,
            title,
            Status.FAIL,
            evidence,
            "keep the throttles alarm (infra/constructs/service_alarms.py)",
        )
    if config.chat.reserved_concurrency is None:
        return _item(
            "rate-limit-handling",
            Dimension.SCALABILITY,
            title,
            Status.WARN,
            evidence,
            "set chat.reserved_concurrency so a burst cannot outrun your Anthropic rate limit",
        )
    return _item("rate-limit-handling", Dimension.SCALABILITY, title, Status.PASS, evidence)


def batch_queues(view: TemplateView) -> Item:
    title = "Queue, dead-letter queue and their alarms"
    env_name = view.synthesized.env_name
    queues = view.resources("AWS::SQS::Queue")
    problems, names = [], []
    for queue in view.synthesized.config.batch.queues:
        name = f"claude-kit-{env_name}-{queue.name}"
        names.append(name)
        props = next((p for p in queues.values() if p.get("QueueName") == name), None)
        if props is None or "RedrivePolicy" not in props:
            problems.append(f"{name} has no dead-letter queue")
        if view.alarm(f"queue-{queue.name}-DLQ-Queue-Message-Count-Max-Critical") is None:
            problems.append(f"{name}-dlq has no alarm")
    if problems:
        return _item(
            "batch-queues",
            Dimension.SCALABILITY,
            title,
            Status.FAIL,
            "; ".join(problems),
            "build queues with infra/constructs/batch_queues.py and monitor them in observability.py",
        )
    return _item(
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
        return _item(
            "eval-baseline",
            Dimension.RELEASE,
            title,
            Status.WARN,
            f"{relative} does not exist",
            f"record one with the eval harness (make eval ENV={view.synthesized.env_name}) and commit it",
        )
    return _item(
        "eval-baseline", Dimension.RELEASE, title, Status.PASS, f"{relative} ({path.stat().st_size} bytes)"
    )


CHECKS: tuple[Check, ...] = (
    api_key_secret,
    no_key_in_environment,
    key_per_environment,
    anthropic_spend_limit,
    retry_policy,
    timeouts,
    fallback_model,
    context_limits,
    prompt_caching,
    token_usage_logged,
    spend_guard,
    cost_alarms,
    service_alarms,
    tracing,
    dashboard,
    api_auth_and_throttling,
    rate_limit_handling,
    batch_queues,
    eval_baseline,
)


def offline_items(synthesized: SynthesizedEnvironment) -> list[Item]:
    view = TemplateView(synthesized)
    return [check(view) for check in CHECKS]
