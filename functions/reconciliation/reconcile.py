"""The kit's estimate of the Claude bill against Anthropic's report of it, for one environment's API key.

Reported cost is the usage report's tokens priced with the kit's price table, per (model, service tier),
at the base rates (a bucket's summed prompt says nothing about each call's length, so a long-prompt tier
cannot be told from it) with the Message Batches discount for the `batch` tier. Priority-tier usage is
priced as standard: the report does not carry its premium. Where the environment has a workspace of its own,
the cost report's USD for it is Anthropic's own figure and is used for the month instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from claude_kit.calls import Usage
from claude_kit.pricing import PriceTable
from reconciliation.admin_api import UsageRow


@dataclass(frozen=True, slots=True)
class ReportedSpend:
    usd: float
    usage: Usage
    #: Models in the report the price table does not know: their tokens are in `usage`, not in `usd`.
    unpriced_models: tuple[str, ...] = ()


def reported_spend(rows: Iterable[UsageRow], prices: PriceTable, api_key_id: str) -> ReportedSpend:
    """Tokens and priced cost of the rows that belong to `api_key_id` (the environment's runtime key)."""
    usd = 0.0
    totals = Usage()
    unpriced: set[str] = set()
    for row in rows:
        if row.api_key_id != api_key_id:
            continue
        totals = _add(totals, row.usage)
        pricing = prices.lookup(row.model or "")
        if pricing is None:
            unpriced.add(row.model or "unknown")
            continue
        cost = pricing.cost(row.usage)  # base rates: see the module docstring
        usd += cost * prices.batch_discount if row.service_tier == "batch" else cost
    return ReportedSpend(usd=usd, usage=totals, unpriced_models=tuple(sorted(unpriced)))


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One window compared: the kit's `estimated_usd` (its CostUSD metric) and Anthropic's `reported`."""

    start: datetime
    end: datetime
    estimated_usd: float
    reported: ReportedSpend
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def drift_percent(self) -> float:
        """|reported − estimated| as a percentage of the reported bill (100 when only the kit saw spend)."""
        reported, estimated = self.reported.usd, self.estimated_usd
        if reported == 0:
            return 0.0 if estimated == 0 else 100.0
        return abs(reported - estimated) / reported * 100


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cache_creation_input_tokens=a.cache_creation_input_tokens + b.cache_creation_input_tokens,
        cache_read_input_tokens=a.cache_read_input_tokens + b.cache_read_input_tokens,
        cache_creation_1h_input_tokens=a.cache_creation_1h_input_tokens + b.cache_creation_1h_input_tokens,
    )
