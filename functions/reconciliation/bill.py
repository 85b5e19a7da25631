"""One hourly look at the environment's Claude bill: month-to-date figure, reconciliation, brake, warnings.

The month-to-date figure the brake uses is the larger of the kit's estimate and Anthropic's reported cost
(when reconciliation is on): the estimate is current but can miss spend (calls outside the kit), the report
is the bill but arrives late.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from claude_kit.contract import Env, Metric
from claude_kit.pricing import PriceTable
from reconciliation.admin_api import AdminApi
from reconciliation.estimate import CostMetric
from reconciliation.reconcile import Reconciliation, reported_spend
from reconciliation.settings import BillSettings
from reconciliation.warnings import BudgetWarnings


@dataclass
class BillReport:
    """What a run found and did; returned by the function and logged."""

    month_to_date_usd: float
    estimated_month_to_date_usd: float
    estimated_today_usd: float
    reported_month_to_date_usd: float | None = None
    reconciliation: Reconciliation | None = None
    closed_switch: bool = False
    warnings: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """What is published under {Environment} (docs/metrics.md), so alarms and the dashboard see it."""
        figures = {
            Metric.MONTH_TO_DATE_COST_USD: self.month_to_date_usd,
            Metric.ESTIMATED_MONTH_TO_DATE_COST_USD: self.estimated_month_to_date_usd,
        }
        if self.reported_month_to_date_usd is not None:
            figures[Metric.REPORTED_MONTH_TO_DATE_COST_USD] = self.reported_month_to_date_usd
        if (recon := self.reconciliation) is not None:
            usage = recon.reported.usage
            figures |= {
                Metric.REPORTED_COST_USD: recon.reported.usd,
                Metric.ESTIMATED_COST_USD_IN_REPORT_WINDOW: recon.estimated_usd,
                Metric.COST_DRIFT_PERCENT: recon.drift_percent,
                Metric.REPORTED_INPUT_TOKENS: usage.input_tokens,
                Metric.REPORTED_OUTPUT_TOKENS: usage.output_tokens,
                Metric.REPORTED_CACHE_CREATION_INPUT_TOKENS: usage.cache_creation_input_tokens,
                Metric.REPORTED_CACHE_READ_INPUT_TOKENS: usage.cache_read_input_tokens,
            }
        return figures

    def to_json(self) -> dict[str, object]:
        recon = self.reconciliation
        return {
            "metrics": self.metrics(),
            "closed_switch": self.closed_switch,
            "warnings": self.warnings,
            "report_window": None if recon is None else [recon.start.isoformat(), recon.end.isoformat()],
            "unpriced_models": [] if recon is None else list(recon.reported.unpriced_models),
        }


class ClaudeBill:
    def __init__(
        self,
        *,
        settings: BillSettings,
        cost_metric: CostMetric,
        prices: PriceTable,
        admin_api: AdminApi | None,
        warnings: BudgetWarnings,
        close_switch: Callable[[str], None],
        publish: Callable[[Mapping[str, float]], None],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._cost = cost_metric
        self._prices = prices
        self._admin = admin_api
        self._warnings = warnings
        self._close_switch = close_switch
        self._publish = publish
        self._now = now

    def run(self) -> BillReport:
        now = self._now()
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month_start = day_start.replace(day=1)
        estimated_month = self._cost.usd_between(month_start, now)
        report = BillReport(
            month_to_date_usd=estimated_month,
            estimated_month_to_date_usd=estimated_month,
            estimated_today_usd=self._cost.usd_between(day_start, now),
        )
        if self._admin is not None:
            report.reconciliation = self._reconcile(now)
            report.reported_month_to_date_usd = self._reported_month(
                month_start, day_start + timedelta(days=1)
            )
            report.month_to_date_usd = max(estimated_month, report.reported_month_to_date_usd)
        self._publish(report.metrics())

        budget = self._settings.claude_monthly_usd
        if budget is not None and report.month_to_date_usd >= budget:
            self._close_switch(
                f"month-to-date Claude cost {report.month_to_date_usd:.2f} USD reached claude_monthly_usd "
                f"{budget:.2f} USD"
            )
            report.closed_switch = True
        report.warnings = self._warnings.check(
            spent_today=report.estimated_today_usd, spent_month=report.month_to_date_usd, now=now
        )
        return report

    def _reconcile(self, now: datetime) -> Reconciliation:
        """The last complete 24 hours of hourly buckets, ending `report_delay_minutes` ago."""
        assert self._admin is not None
        delayed = now - timedelta(minutes=self._settings.report_delay_minutes)
        end = delayed.replace(minute=0, second=0, microsecond=0)
        if self._settings.report_delay_minutes == 0:
            end += timedelta(hours=1)  # no delay to allow for: include the hour under way
        start = end - timedelta(hours=24)
        key_id = self._key_id()
        rows = self._admin.usage(start=start, end=end, api_key_ids=[key_id])
        return Reconciliation(
            start=start,
            end=end,
            estimated_usd=self._cost.usd_between(start, end),
            reported=reported_spend(rows, self._prices, key_id),
        )

    def _reported_month(self, month_start: datetime, tomorrow: datetime) -> float:
        assert self._admin is not None
        workspace = self._settings.anthropic_workspace_id
        if workspace is not None:
            rows = self._admin.cost(start=month_start, end=tomorrow, group_by=("workspace_id",))
            return float(sum(row.usd for row in rows if row.workspace_id == workspace))
        key_id = self._key_id()
        usage = self._admin.usage(start=month_start, end=tomorrow, bucket_width="1d", api_key_ids=[key_id])
        return reported_spend(usage, self._prices, key_id).usd

    def _key_id(self) -> str:
        key_id = self._settings.anthropic_api_key_id
        if key_id is None:
            raise ValueError(
                f"{Env.ANTHROPIC_API_KEY_ID} is required with an admin key (infra/config.py checks it)"
            )
        return key_id
