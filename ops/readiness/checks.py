"""The readiness items judged offline, from validated cdk.json settings and the synthesized templates.

safeguards.py holds security, reliability and cost control; monitoring.py observability, scalability and the
release gate. The order here is the order of the report.
"""

from __future__ import annotations

from ops.readiness.check_base import Check
from ops.readiness.monitoring import (
    api_auth_and_throttling,
    batch_queues,
    cost_alarms,
    dashboard,
    eval_baseline,
    rate_limit_handling,
    service_alarms,
    tracing,
)
from ops.readiness.report import Item
from ops.readiness.safeguards import (
    anthropic_spend_limit,
    api_key_secret,
    context_limits,
    fallback_model,
    key_per_environment,
    no_key_in_environment,
    prompt_caching,
    retry_policy,
    spend_guard,
    timeouts,
    token_usage_logged,
)
from ops.readiness.template_view import TemplateView
from ops.synthesis import SynthesizedEnvironment

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
