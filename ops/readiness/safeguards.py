"""Readiness items that guard keys, calls and money: security, reliability, cost control (offline).

Each check names the resource or setting that answers it and says in one line how to fix a miss. A miss that
lets keys leak or money go unchecked is a fail; a choice that is fine for some environments is a warn.
"""

from __future__ import annotations

from claude_kit import contract
from claude_kit.contract import Env
from claude_kit.pricing import load_price_table
from ops.readiness.check_base import KEY_PATTERN, KEY_VARIABLE, make_item, runtime_default
from ops.readiness.report import Dimension, Item, Status
from ops.readiness.template_view import TemplateView
from ops.synthesis import REPO_ROOT

# Security


def api_key_secret(view: TemplateView) -> Item:
    title = "API key in a per-environment secret"
    config, env_name = view.synthesized.config, view.synthesized.env_name
    functions = view.claude_functions()
    names = {function.setting(Env.API_KEY_SECRET_NAME) for function in functions}
    fix = (
        "keep the key in Secrets Manager: leave secret.existing_secret_name unset, or name this env's secret"
    )
    if not functions or len(names) != 1:
        return make_item(
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
    if config.secret.existing_secret_name is None and name != contract.api_key_secret_name(env_name):
        return make_item("api-key-secret", Dimension.SECURITY, title, Status.FAIL, evidence, fix)
    return make_item("api-key-secret", Dimension.SECURITY, title, Status.PASS, evidence)


def no_key_in_environment(view: TemplateView) -> Item:
    title = "No API key in environment variables or cdk.json"
    leaks = [
        f"{function.name}.{name}"
        for function in view.functions()
        for name, value in function.environment.items()
        if KEY_VARIABLE.search(name) or (isinstance(value, str) and KEY_PATTERN.search(value))
    ]
    cdk_json = REPO_ROOT / "cdk.json"
    if cdk_json.exists() and KEY_PATTERN.search(cdk_json.read_text()):
        leaks.append("cdk.json")
    if leaks:
        return make_item(
            "no-key-in-environment",
            Dimension.SECURITY,
            title,
            Status.FAIL,
            f"key-like values or variables in {', '.join(leaks)}",
            "remove the key, revoke it in the Anthropic Console and store a new one in the secret",
        )
    count = sum(len(function.environment) for function in view.functions())
    return make_item(
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
        return configured or contract.api_key_secret_name(name)

    own = secret_of(env_name)
    shared = [name for name in view.synthesized.all_configs if name != env_name and secret_of(name) == own]
    if shared:
        return make_item(
            "key-per-environment",
            Dimension.SECURITY,
            title,
            Status.FAIL,
            f"secret {own} is also used by {', '.join(shared)}",
            "give each environment its own secret (and its own key from the Anthropic Console)",
        )
    return make_item(
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
        return make_item(
            "anthropic-spend-limit",
            Dimension.SECURITY,
            title,
            Status.FAIL,
            "claude.workspace_spend_limit_usd is not recorded (the limit lives in the Anthropic Console)",
            "set a monthly spend limit on this environment's workspace in the Anthropic Console, then "
            "record it as claude.workspace_spend_limit_usd in cdk.json",
        )
    return make_item(
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
        f.setting(Env.RATE_LIMIT_MAX_ATTEMPTS) or str(runtime_default("rate_limit_max_attempts"))
        for f in view.claude_functions()
    }
    evidence = (
        f"claude_kit.retry on {len(view.claude_functions())} functions: 429 up to "
        f"{'/'.join(sorted(attempts))} attempts with retry-after or jittered backoff "
        f"({runtime_default('retry_base_seconds')} s base, "
        f"{runtime_default('retry_max_backoff_seconds')} s cap); 5xx, 529 and timeouts once; possibly "
        f"billed attempts {'retried' if view.synthesized.config.claude.retry_ambiguous else 'not retried'}"
    )
    if attempts & {"1", "0"}:
        return make_item(
            "retry-policy",
            Dimension.RELIABILITY,
            title,
            Status.FAIL,
            evidence,
            f"do not set {Env.RATE_LIMIT_MAX_ATTEMPTS} below 2",
        )
    return make_item("retry-policy", Dimension.RELIABILITY, title, Status.PASS, evidence)


def timeouts(view: TemplateView) -> Item:
    title = "Timeouts inside each function's limit"
    read = float(str(runtime_default("read_timeout_seconds")))
    stream = float(str(runtime_default("stream_read_timeout_seconds")))
    connect = float(str(runtime_default("connect_timeout_seconds")))
    # The chat function relays streams (silent for up to `stream`); the others wait for whole answers.
    short = [
        f"{f.name} ({f.timeout_seconds} s)"
        for f in view.claude_functions()
        if f.timeout_seconds <= (stream if f.setting("AWS_LWA_INVOKE_MODE") else read)
    ]
    evidence = (
        f"Claude client: connect {connect:g} s, read {read:g} s, stream silence {stream:g} s; "
        f"function timeouts {sorted({f.timeout_seconds for f in view.claude_functions()})} s; chat "
        f"first-token deadline {view.synthesized.config.claude.first_token_deadline_seconds} s"
    )
    if short:
        return make_item(
            "timeouts", Dimension.RELIABILITY, title, Status.FAIL,
            f"{evidence}; no longer than one Claude wait: {', '.join(short)}",
            "raise chat.timeout_seconds / batch.queues[].consumer_timeout_seconds above the wait",
        )  # fmt: skip
    return make_item("timeouts", Dimension.RELIABILITY, title, Status.PASS, evidence)


def fallback_model(view: TemplateView) -> Item:
    title = "Fallback model"
    claude = view.synthesized.config.claude
    fallback = claude.fallback_model
    if fallback is None:
        return make_item(
            "fallback-model",
            Dimension.RELIABILITY,
            title,
            Status.FAIL,
            f"claude.fallback_model is null: an overloaded {claude.model} fails the call",
            'set claude.fallback_model (e.g. "claude-haiku-5-5") in cdk.json',
        )
    missing = [f.name for f in view.claude_functions() if f.setting(Env.FALLBACK_MODEL) != fallback]
    if missing:
        return make_item(
            "fallback-model",
            Dimension.RELIABILITY,
            title,
            Status.FAIL,
            f"{Env.FALLBACK_MODEL} missing on {', '.join(missing)}",
            "build every Claude-calling function with infra.lambda_function.claude_environment",
        )
    return make_item(
        "fallback-model",
        Dimension.RELIABILITY,
        title,
        Status.PASS,
        f"{claude.model} falls back to {fallback} ({Env.FALLBACK_MODEL} on every Claude-calling function)",
    )


# Cost control


def context_limits(view: TemplateView) -> Item:
    title = "Context window and output limits"
    claude = view.synthesized.config.claude
    unset = [
        f.name
        for f in view.claude_functions()
        if not all(f.setting(k) for k in (Env.CONTEXT_MAX_TOKENS, Env.MAX_TOKENS_CAP))
    ]
    evidence = (
        f"max_tokens capped at {claude.max_tokens_cap}; context trimmed to {claude.context_max_turns} "
        f"turns / {claude.context_max_tokens} tokens"
    )
    if unset:
        return make_item(
            "context-limits",
            Dimension.COST,
            title,
            Status.FAIL,
            f"limits missing on {', '.join(unset)}",
            "build every Claude-calling function with infra.lambda_function.claude_environment",
        )
    return make_item("context-limits", Dimension.COST, title, Status.PASS, evidence)


def prompt_caching(view: TemplateView) -> Item:
    title = "Prompt caching on, prompts above the minimum"
    off = [
        f.name
        for f in view.claude_functions()
        if (f.setting(Env.PROMPT_CACHING) or "true").lower() == "false"
    ]
    if off:
        return make_item(
            "prompt-caching",
            Dimension.COST,
            title,
            Status.FAIL,
            f"{Env.PROMPT_CACHING}=false on {', '.join(off)} (claude.prompt_caching)",
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
        return make_item(
            "prompt-caching",
            Dimension.COST,
            title,
            Status.WARN,
            f"{evidence}; {model}'s minimum is not published, so {minimum} is the table's default",
            "confirm caching works: CacheReadInputTokens > 0 on the dashboard after a few repeated calls",
        )
    return make_item("prompt-caching", Dimension.COST, title, Status.PASS, evidence)


def token_usage_logged(view: TemplateView) -> Item:
    title = "Per-call telemetry (tokens, cost, latency)"
    bad = [
        f"{f.name} ({reason})"
        for f in view.claude_functions()
        for reason in (
            "metrics disabled" if (f.setting("POWERTOOLS_METRICS_DISABLED") or "").lower() == "true" else "",
            f"namespace {f.setting('POWERTOOLS_METRICS_NAMESPACE')}"
            if f.setting("POWERTOOLS_METRICS_NAMESPACE") != contract.METRICS_NAMESPACE
            else "",
            f"log level {f.setting('POWERTOOLS_LOG_LEVEL')} hides the call log"
            if f.setting("POWERTOOLS_LOG_LEVEL") in {"WARNING", "ERROR", "CRITICAL"}
            else "",
        )
        if reason
    ]
    if bad:
        return make_item(
            "token-usage-logged",
            Dimension.COST,
            title,
            Status.FAIL,
            "; ".join(bad),
            'keep log_level at "INFO" or "DEBUG" and metrics on: alarms and the spend guard read them',
        )
    return make_item(
        "token-usage-logged",
        Dimension.COST,
        title,
        Status.PASS,
        f"{len(view.claude_functions())} Claude-calling functions emit one EMF record and one log line per "
        f"call to namespace {contract.METRICS_NAMESPACE} (log level {view.synthesized.config.log_level})",
    )


def spend_guard(view: TemplateView) -> Item:
    title = "Spend guard and its brakes"
    alerts, env_name = view.synthesized.config.alerts, view.synthesized.env_name
    if not alerts.spend_guard_enabled:
        return make_item(
            "spend-guard",
            Dimension.COST,
            title,
            Status.FAIL,
            "alerts.spend_guard_enabled is false: nothing stops calls when the budget is spent",
            "set alerts.spend_guard_enabled to true",
        )
    unguarded = [f.name for f in view.claude_functions() if not f.setting(Env.SPEND_SWITCH_PARAMETER)]
    unguarded = [name for name in unguarded if "Poller" not in name]  # collects results already paid for
    daily = view.alarm("daily-cost")
    budgets = view.resources("AWS::Budgets::Budget")
    brakes = []
    if daily is not None:
        brakes.append(f"daily-cost alarm > {alerts.claude_daily_usd:g} USD")
    if budgets:
        brakes.append(
            f"budget {contract.budget_name(env_name)} ({alerts.aws_monthly_budget_usd:g} USD/month)"
        )
    evidence = (
        f"switch {contract.switch_parameter_name(env_name)} closed by: {', '.join(brakes) or 'nothing'}"
    )
    if unguarded or len(brakes) < 2:
        return make_item(
            "spend-guard",
            Dimension.COST,
            title,
            Status.FAIL,
            f"{evidence}; not checking the switch: {', '.join(unguarded) or '-'}",
            "attach the spend guard to every Claude-calling function (infra/stack.py)",
        )
    if alerts.user_daily_usd_allowance is None and alerts.user_daily_token_allowance is None:
        return make_item(
            "spend-guard",
            Dimension.COST,
            title,
            Status.WARN,
            f"{evidence}; no per-user daily allowance: one user can spend the whole day's budget",
            "set alerts.user_daily_usd_allowance",
        )
    return make_item(
        "spend-guard",
        Dimension.COST,
        title,
        Status.PASS,
        f"{evidence}; per-user allowance {alerts.user_daily_usd_allowance} USD/day",
    )
