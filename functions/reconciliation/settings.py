"""Settings of the Claude bill function, from the `KIT_*` variables the ClaudeBill construct sets."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from pydantic import Field

from claude_kit.settings import KitSettings
from reconciliation.admin_api import ANTHROPIC_API


class BillSettings(KitSettings):
    env_name: str = "local"
    claude_daily_usd: Annotated[float, Field(gt=0)] | None = None
    #: Month-to-date Claude spend at which the spend guard closes (reason `claude_monthly_budget`).
    claude_monthly_usd: Annotated[float, Field(gt=0)] | None = None
    budget_warning_percents: tuple[Annotated[int, Field(gt=0, le=100)], ...] = (50, 80, 100)
    #: Where warnings go (the alert topic), and where the thresholds already sent are remembered.
    alert_topic_arn: str | None = None
    warnings_parameter: str | None = None
    #: The spend guard function, invoked to close the switch.
    spend_guard_function: str | None = None
    #: Reconciliation is on when this secret (holding an Admin API key) is set.
    admin_key_secret_name: str | None = None
    #: The environment's runtime API key id (`apikey_…`, Console → API keys): its rows of the report.
    anthropic_api_key_id: str | None = None
    #: A workspace only this environment uses: the cost report's USD for it is the month's reported cost.
    anthropic_workspace_id: str | None = None
    admin_api_base_url: str = ANTHROPIC_API
    #: Report buckets younger than this are not compared (the report arrives with a delay).
    report_delay_minutes: Annotated[int, Field(ge=0)] = 60


@cache
def get_bill_settings() -> BillSettings:
    return BillSettings()
