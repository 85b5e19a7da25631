"""The Admin API's Usage & Cost report, served from the fake's ledger of what it billed (ledger.py).

Shaped like `GET /v1/organizations/usage_report/messages` (time buckets of 1m / 1h / 1d snapped to UTC,
`group_by[]` api_key_id / workspace_id / model / service_tier, `api_key_ids[]` / `models[]` filters,
`limit` buckets per page with `has_more` / `next_page`) and `GET /v1/organizations/cost_report` (1d buckets,
`group_by[]` workspace_id / description, `amount` in cents as a decimal string). Every call the fake billed is
attributed to its one runtime key (`FakeClaudeConfig.api_key_id`) and workspace, so spend made straight to
the fake with that key shows up here exactly as spend outside the kit would on the real report.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from claude_kit.calls import Usage
from claude_kit.pricing import PriceTable, load_price_table
from local.fake_claude.ledger import BilledCall
from local.fake_claude.protocol import ApiError, invalid_request

#: bucket width → (length, default buckets per page, most buckets per page), as the API documents them.
WIDTHS: dict[str, tuple[timedelta, int, int]] = {
    "1m": (timedelta(minutes=1), 60, 1440),
    "1h": (timedelta(hours=1), 24, 168),
    "1d": (timedelta(days=1), 7, 31),
}
USAGE_GROUPS = ("api_key_id", "workspace_id", "model", "service_tier")
COST_GROUPS = ("workspace_id", "description")


@dataclass(frozen=True)
class Attribution:
    """Who the fake's runtime key belongs to, as the real report names it."""

    api_key_id: str
    workspace_id: str


def usage_report(
    ledger: Sequence[BilledCall], owner: Attribution, query: Mapping[str, list[str]], now: float
) -> dict[str, Any]:
    width = _one(query, "bucket_width", "1d")
    if width not in WIDTHS:
        raise invalid_request(f"bucket_width: must be one of {sorted(WIDTHS)}")
    group_by = _groups(query, USAGE_GROUPS)
    starts = _page_of_buckets(query, width, now)
    wanted_keys, wanted_models = set(query.get("api_key_ids[]", [])), set(query.get("models[]", []))
    entries = [
        entry
        for entry in ledger
        if (not wanted_keys or owner.api_key_id in wanted_keys)
        and (not wanted_models or entry.model in wanted_models)
    ]
    step = WIDTHS[width][0]
    data = [
        {
            "starting_at": _iso(start),
            "ending_at": _iso(start + step),
            "results": _usage_rows(_within(entries, start, start + step), owner, group_by),
        }
        for start in starts.buckets
    ]
    return {"data": data, "has_more": starts.next_start is not None, "next_page": _token(starts.next_start)}


def cost_report(
    ledger: Sequence[BilledCall],
    owner: Attribution,
    query: Mapping[str, list[str]],
    now: float,
    prices: PriceTable,
) -> dict[str, Any]:
    width = _one(query, "bucket_width", "1d")
    if width != "1d":
        raise invalid_request("bucket_width: the cost report has daily buckets only ('1d')")
    group_by = _groups(query, COST_GROUPS)
    starts = _page_of_buckets(query, width, now)
    data = [
        {
            "starting_at": _iso(start),
            "ending_at": _iso(start + timedelta(days=1)),
            "results": _cost_rows(_within(ledger, start, start + timedelta(days=1)), owner, group_by, prices),
        }
        for start in starts.buckets
    ]
    return {"data": data, "has_more": starts.next_start is not None, "next_page": _token(starts.next_start)}


@cache
def default_prices() -> PriceTable:
    """The prices of functions/claude_kit/data/models.json, as the fake bills them."""
    return load_price_table()


# -- buckets -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    buckets: list[datetime]
    next_start: datetime | None


def _page_of_buckets(query: Mapping[str, list[str]], width: str, now: float) -> _Page:
    step, default_limit, max_limit = WIDTHS[width]
    raw_start = _one(query, "starting_at")
    if raw_start is None:
        raise invalid_request("starting_at: Field required")
    start = _snap(_parse_time("starting_at", raw_start), width)
    if (page := _one(query, "page")) is not None:
        start = _from_token(page)
    raw_end = _one(query, "ending_at")
    end = _parse_time("ending_at", raw_end) if raw_end else None
    raw_limit = _one(query, "limit")
    limit = int(raw_limit) if raw_limit and raw_limit.isdigit() else default_limit
    if not 1 <= limit <= max_limit:
        raise invalid_request(f"limit: must be between 1 and {max_limit} for bucket_width {width}")
    clock = datetime.fromtimestamp(now, UTC)
    buckets: list[datetime] = []
    cursor = start
    # Buckets that end before ending_at (or, without it, that have begun by now), at most `limit` per page.
    while (end is None and cursor <= clock) or (end is not None and cursor + step <= end):
        if len(buckets) == limit:
            return _Page(buckets, cursor)
        buckets.append(cursor)
        cursor += step
    return _Page(buckets, None)


def _snap(moment: datetime, width: str) -> datetime:
    if width == "1d":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if width == "1h":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


def _within(entries: Iterable[BilledCall], start: datetime, end: datetime) -> list[BilledCall]:
    low, high = start.timestamp(), end.timestamp()
    return [entry for entry in entries if low <= entry.at < high]


# -- rows ----------------------------------------------------------------------------------------------------


def _usage_rows(
    entries: Sequence[BilledCall], owner: Attribution, group_by: Sequence[str]
) -> list[dict[str, Any]]:
    sums: dict[tuple[str | None, ...], defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for entry in entries:
        key = tuple(_dimension(entry, owner, name) if name in group_by else None for name in USAGE_GROUPS)
        row = sums[key]
        row["uncached_input_tokens"] += entry.input_tokens
        row["cache_read_input_tokens"] += entry.cache_read_input_tokens
        row["ephemeral_5m_input_tokens"] += entry.cache_creation_5m_input_tokens
        row["ephemeral_1h_input_tokens"] += entry.cache_creation_1h_input_tokens
        row["output_tokens"] += entry.output_tokens
    return [
        {
            **dict(zip(USAGE_GROUPS, key, strict=True)),
            "context_window": None,
            "uncached_input_tokens": row["uncached_input_tokens"],
            "cache_creation": {
                "ephemeral_5m_input_tokens": row["ephemeral_5m_input_tokens"],
                "ephemeral_1h_input_tokens": row["ephemeral_1h_input_tokens"],
            },
            "cache_read_input_tokens": row["cache_read_input_tokens"],
            "output_tokens": row["output_tokens"],
            "server_tool_use": {"web_search_requests": 0},
        }
        for key, row in sums.items()
    ]


def _cost_rows(
    entries: Sequence[BilledCall], owner: Attribution, group_by: Sequence[str], prices: PriceTable
) -> list[dict[str, Any]]:
    cents: defaultdict[tuple[str | None, ...], Decimal] = defaultdict(Decimal)
    for entry in entries:
        usd = prices.cost(entry.model, billed_usage(entry), batch=entry.service_tier == "batch") or 0.0
        description = f"{entry.model} usage" if "description" in group_by else None
        workspace = owner.workspace_id if "workspace_id" in group_by else None
        cents[(workspace, description)] += Decimal(repr(usd)) * 100
    return [
        {
            "workspace_id": workspace,
            "description": description,
            "cost_type": "tokens" if description else None,
            "model": description.removesuffix(" usage") if description else None,
            "service_tier": None,
            "context_window": None,
            "token_type": None,
            "currency": "USD",
            "amount": format(amount, "f"),
        }
        for (workspace, description), amount in cents.items()
    ]


def billed_usage(entry: BilledCall) -> Usage:
    """A ledger entry in the kit's `Usage` terms, to price it as the kit does."""
    return Usage(
        input_tokens=entry.input_tokens,
        output_tokens=entry.output_tokens,
        cache_creation_input_tokens=entry.cache_creation_input_tokens,
        cache_read_input_tokens=entry.cache_read_input_tokens,
        cache_creation_1h_input_tokens=entry.cache_creation_1h_input_tokens,
    )


def _dimension(entry: BilledCall, owner: Attribution, name: str) -> str:
    match name:
        case "api_key_id":
            return owner.api_key_id
        case "workspace_id":
            return owner.workspace_id
        case "model":
            return entry.model
        case _:
            return entry.service_tier


# -- query values --------------------------------------------------------------------------------------------


def _one(query: Mapping[str, list[str]], name: str, default: str | None = None) -> str | None:
    values = query.get(name)
    return values[-1] if values else default


def _groups(query: Mapping[str, list[str]], allowed: Sequence[str]) -> list[str]:
    groups = query.get("group_by[]", []) + query.get("group_by", [])
    for group in groups:
        if group not in allowed:
            raise invalid_request(f"group_by: {group!r} is not one of {list(allowed)}")
    return groups


def _parse_time(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid_request(f"{name}: not an RFC 3339 timestamp: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _token(start: datetime | None) -> str | None:
    return None if start is None else "page_" + base64.urlsafe_b64encode(_iso(start).encode()).decode()


def _from_token(token: str) -> datetime:
    try:
        return _parse_time("page", base64.urlsafe_b64decode(token.removeprefix("page_")).decode())
    except (ValueError, ApiError) as exc:
        raise invalid_request("page: not a next_page token from this report") from exc
