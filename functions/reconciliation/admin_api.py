"""Anthropic's Usage & Cost Admin API: the usage report (tokens) and the cost report (USD), every page.

Plain HTTP (httpx2, which the anthropic SDK already ships) because the SDK has no client for these legacy
report endpoints and sends its key as `Authorization: Bearer`, while the Admin API documents `x-api-key` with
an admin key (`sk-ant-admin01-…`). Docs: platform.claude.com, Admin API → Usage and Cost API.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx2

from claude_kit.calls import Usage

ANTHROPIC_API = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
#: A month of hourly buckets at most per report call would be 744; the API serves 168 a page.
_MAX_PAGES = 100


class AdminApiError(Exception):
    """The report could not be read (refused key, API error, unexpected shape); the run is retried later."""


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One row of a usage report bucket: tokens of one (api key, model, service tier) in that bucket."""

    starting_at: datetime
    api_key_id: str | None
    model: str | None
    service_tier: str | None
    usage: Usage


@dataclass(frozen=True, slots=True)
class CostRow:
    starting_at: datetime
    workspace_id: str | None
    description: str | None
    usd: Decimal


class AdminApi:
    """Reads the reports with an admin key; `http` is built by `connect` (tests pass their own)."""

    def __init__(self, http: httpx2.Client) -> None:
        self._http = http

    @classmethod
    def connect(
        cls, admin_key: str, base_url: str = ANTHROPIC_API, timeout_seconds: float = 30.0
    ) -> AdminApi:
        return cls(
            httpx2.Client(
                base_url=base_url,
                headers={"x-api-key": admin_key, "anthropic-version": API_VERSION},
                timeout=timeout_seconds,
                transport=httpx2.HTTPTransport(retries=2),  # connection failures only
            )
        )

    def close(self) -> None:
        self._http.close()

    def usage(
        self,
        *,
        start: datetime,
        end: datetime,
        bucket_width: str = "1h",
        api_key_ids: Sequence[str] = (),
        group_by: Sequence[str] = ("api_key_id", "model", "service_tier"),
    ) -> list[UsageRow]:
        params: dict[str, Any] = {
            "starting_at": _iso(start),
            "ending_at": _iso(end),
            "bucket_width": bucket_width,
            "group_by[]": list(group_by),
            "limit": {"1h": 168, "1d": 31, "1m": 1440}[bucket_width],
        }
        if api_key_ids:
            params["api_key_ids[]"] = list(api_key_ids)
        return [
            UsageRow(
                starting_at=_time(bucket["starting_at"]),
                api_key_id=row.get("api_key_id"),
                model=row.get("model"),
                service_tier=row.get("service_tier"),
                usage=_usage(row),
            )
            for bucket in self._buckets("/v1/organizations/usage_report/messages", params)
            for row in bucket.get("results", [])
        ]

    def cost(
        self, *, start: datetime, end: datetime, group_by: Sequence[str] = ("workspace_id",)
    ) -> list[CostRow]:
        params = {
            "starting_at": _iso(start),
            "ending_at": _iso(end),
            "bucket_width": "1d",
            "group_by[]": list(group_by),
            "limit": 31,
        }
        return [
            CostRow(
                starting_at=_time(bucket["starting_at"]),
                workspace_id=row.get("workspace_id"),
                description=row.get("description"),
                # In the currency's lowest unit (cents) as a decimal string: "123.45" is $1.2345.
                usd=Decimal(str(row["amount"])) / 100,
            )
            for bucket in self._buckets("/v1/organizations/cost_report", params)
            for row in bucket.get("results", [])
        ]

    def _buckets(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page: str | None = None
        for _ in range(_MAX_PAGES):
            query = {**params, **({"page": page} if page else {})}
            try:
                response = self._http.get(path, params=query)
            except httpx2.HTTPError as exc:
                raise AdminApiError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
            if response.status_code != 200:
                raise AdminApiError(f"GET {path}: HTTP {response.status_code}: {response.text[:300]}")
            body = response.json()
            yield from body.get("data", [])
            page = body.get("next_page") if body.get("has_more") else None
            if not page:
                return
        raise AdminApiError(f"GET {path}: more than {_MAX_PAGES} pages")


def _usage(row: Mapping[str, Any]) -> Usage:
    """A row's tokens in the kit's terms; cache writes come split by TTL (nested, or flat in older rows)."""
    split = row.get("cache_creation") or {}
    writes_5m = int(split.get("ephemeral_5m_input_tokens", row.get("cache_creation_5m_input_tokens", 0)) or 0)
    writes_1h = int(split.get("ephemeral_1h_input_tokens", row.get("cache_creation_1h_input_tokens", 0)) or 0)
    return Usage(
        input_tokens=int(row.get("uncached_input_tokens") or 0),
        output_tokens=int(row.get("output_tokens") or 0),
        cache_creation_input_tokens=writes_5m + writes_1h,
        cache_creation_1h_input_tokens=writes_1h,
        cache_read_input_tokens=int(row.get("cache_read_input_tokens") or 0),
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
