"""Why the spend switch is closed: one code per brake, written in the switch's `reason` and named in the 503.

Dependency-free on purpose: the spend guard writes these codes, the chat API words its 503 from them, and the
batch consumers and the local stack read them.
"""

from __future__ import annotations

from typing import Literal, get_args

#: `claude_daily_budget`: the rolling 24-hour Claude cost alarm; `claude_monthly_budget`: the month-to-date
#: Claude cost (the kit's estimate, or Anthropic's reported figure); `aws_budget`: the AWS Budgets budget;
#: `operator`: a person, through `spend_guard.cli` / `bin/kit spend-guard close`.
SpendReason = Literal["claude_daily_budget", "claude_monthly_budget", "aws_budget", "operator"]
SPEND_REASONS: tuple[str, ...] = get_args(SpendReason)

_PAUSED: dict[str, str] = {
    "claude_daily_budget": "The service is paused: its daily Claude budget has been reached",
    "claude_monthly_budget": "The service is paused: its monthly Claude budget has been reached",
    "aws_budget": "The service is paused: its monthly AWS budget has been reached",
    "operator": "The service is paused by its operators",
}
#: A switch closed before reasons were codes, or by hand with free text.
PAUSED_FOR_ANOTHER_REASON = "The service is paused by its spend guard"


def paused_message(reason: str | None) -> str:
    """What a refused caller is told: which brake stopped the service, never the operator's free text."""
    return _PAUSED.get(reason or "", PAUSED_FOR_ANOTHER_REASON)
