"""The `KIT_*` settings the stack gives the functions, derived from an environment's config.

Dependency-free (no CDK import), so `make local` gives the functions it runs exactly the variables a
deployment gives them: infra/lambda_function.py and infra/constructs/chat_api.py use these, as does local/.
"""

from __future__ import annotations

import json

from claude_kit.contract import Env
from infra.config import AlertsConfig, EnvironmentConfig


def claude_environment(config: EnvironmentConfig, *, api_key_secret_name: str) -> dict[str, str]:
    """The `KIT_*` settings (functions/claude_kit/settings.py) every function that calls Claude needs."""
    claude = config.claude
    environment = {
        Env.API_KEY_SECRET_NAME: api_key_secret_name,
        Env.SECRET_CACHE_TTL_SECONDS: str(config.secret.cache_ttl_seconds),
        Env.MODEL: claude.model,
        Env.ALLOWED_MODELS: json.dumps(list(claude.allowed_models)),
        Env.MAX_TOKENS_CAP: str(claude.max_tokens_cap),
        Env.CONTEXT_MAX_TURNS: str(claude.context_max_turns),
        Env.CONTEXT_MAX_TOKENS: str(claude.context_max_tokens),
        Env.RETRY_AMBIGUOUS: json.dumps(claude.retry_ambiguous),
    }
    if claude.first_token_deadline_seconds is not None:
        environment[Env.FIRST_TOKEN_DEADLINE_SECONDS] = str(claude.first_token_deadline_seconds)
    if claude.fallback_model:
        environment[Env.FALLBACK_MODEL] = claude.fallback_model
    if not claude.prompt_caching:
        environment[Env.PROMPT_CACHING] = "false"
    if claude.price_overrides:
        environment[Env.PRICE_OVERRIDES] = json.dumps(claude.price_overrides, sort_keys=True)
    return environment


def chat_environment(config: EnvironmentConfig, *, sessions_table: str) -> dict[str, str]:
    """`KIT_CHAT_*` (functions/chat_api/settings.py and prompts.py): limits, CORS, the server-side prompt."""
    chat = config.chat
    environment = {
        Env.CHAT_SESSIONS_TABLE: sessions_table,
        Env.CHAT_MESSAGE_MAX_CHARS: str(chat.message_max_chars),
        Env.CHAT_SESSION_TTL_DAYS: str(chat.session_ttl_days),
        Env.CHAT_KEEPALIVE_SECONDS: str(chat.keepalive_seconds),
        Env.CHAT_HISTORY_TURNS: str(chat.history_turns),
        Env.CHAT_ALLOW_CALLER_SYSTEM: json.dumps(chat.allow_caller_system),
    }
    if chat.cors_allow_origins:
        environment[Env.CHAT_CORS_ALLOW_ORIGINS] = json.dumps(list(chat.cors_allow_origins))
    if chat.web_page:
        environment[Env.CHAT_WEB_PAGE] = "true"
    if chat.api_docs:
        environment[Env.CHAT_API_DOCS] = "true"
    if chat.system_prompt is not None:
        environment[Env.CHAT_SYSTEM_PROMPT] = chat.system_prompt
    if chat.system_prompt_file is not None:
        # Shipped inside the bundle, whose root is functions/: the function reads it relative to that root.
        environment[Env.CHAT_SYSTEM_PROMPT_FILE] = chat.system_prompt_file.removeprefix("functions/")
    if chat.params:
        environment[Env.CHAT_PARAMS] = json.dumps(chat.params, sort_keys=True)
    if chat.default_max_tokens is not None:
        environment[Env.CHAT_DEFAULT_MAX_TOKENS] = str(chat.default_max_tokens)
    return environment


def quota_environment(alerts: AlertsConfig) -> dict[str, str]:
    """The default allowances, as `KIT_*` settings for `claude_kit.reservation.GuardrailSettings`."""
    environment = {}
    if alerts.user_daily_usd_allowance is not None:
        environment[Env.USER_DAILY_USD_ALLOWANCE] = str(alerts.user_daily_usd_allowance)
    if alerts.user_daily_token_allowance is not None:
        environment[Env.USER_DAILY_TOKEN_ALLOWANCE] = str(alerts.user_daily_token_allowance)
    return environment
