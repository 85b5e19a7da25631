"""The fake's Usage & Cost report, read with the reconciliation's Admin API client over real sockets: it
reports exactly what the ledger billed, in the real API's shape, only to the admin key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import anthropic
import httpx2
import pytest

from claude_kit.calls import Usage
from claude_kit.pricing import get_price_table
from local.fake_claude import FakeClaudeServer
from local.fake_claude.config import PLACEHOLDER_ADMIN_API_KEY
from reconciliation.admin_api import AdminApi, AdminApiError
from reconciliation.reconcile import reported_spend
from tests.integration.fake_claude.conftest import MODEL, ask


@pytest.fixture
def admin(fake_claude: FakeClaudeServer) -> Iterator[AdminApi]:
    api = AdminApi.connect(PLACEHOLDER_ADMIN_API_KEY, base_url=fake_claude.base_url)
    yield api
    api.close()


def _today() -> tuple[datetime, datetime]:
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def test_the_usage_report_sums_what_the_ledger_billed_per_model(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic, admin: AdminApi
) -> None:
    # Given calls on two models
    for model in (MODEL, MODEL, "claude-haiku-5-5"):
        client.messages.create(model=model, max_tokens=100, messages=ask())
    # When today's usage is read in hourly buckets, grouped by key, model and tier
    start, end = _today()
    rows = admin.usage(start=start, end=end, api_key_ids=[fake_claude.config.api_key_id])
    # Then one row per model, all on the fake's key, and the tokens are the ledger's
    assert sorted(row.model or "" for row in rows) == sorted([MODEL, "claude-haiku-5-5"])
    assert {row.api_key_id for row in rows} == {fake_claude.config.api_key_id}
    assert {row.service_tier for row in rows} == {"standard"}
    billed = fake_claude.billed_totals()
    assert sum(row.usage.input_tokens for row in rows) == billed.input_tokens
    assert sum(row.usage.output_tokens for row in rows) == billed.output_tokens


def test_the_report_pages_with_has_more_and_next_page(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic, admin: AdminApi
) -> None:
    # Given a call today
    client.messages.create(model=MODEL, max_tokens=50, messages=ask())
    # When 40 days of daily buckets are read (31 a page at most)
    start, end = _today()
    rows = admin.usage(start=start - timedelta(days=39), end=end, bucket_width="1d")
    # Then the client followed next_page to the second page, where today's bucket is
    report_calls = [r for r in fake_claude.requests if r.path.endswith("/usage_report/messages")]
    assert len(report_calls) == 2
    assert [row.starting_at for row in rows] == [start]
    assert rows[0].usage.output_tokens == fake_claude.billed_totals().output_tokens


def test_an_unknown_key_id_has_no_rows(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic, admin: AdminApi
) -> None:
    client.messages.create(model=MODEL, max_tokens=50, messages=ask())
    start, end = _today()
    assert admin.usage(start=start, end=end, api_key_ids=["apikey_someone_else"]) == []


def test_the_cost_report_is_the_ledger_priced_in_cents(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic, admin: AdminApi
) -> None:
    # Given calls billed today
    for _ in range(3):
        client.messages.create(model=MODEL, max_tokens=200, messages=ask())
    # When the cost report is read per workspace
    start, end = _today()
    [row] = admin.cost(start=start, end=end)
    # Then it is the fake's workspace, and its USD is the ledger priced with the kit's table
    billed = fake_claude.billed_totals()
    expected = get_price_table().cost(
        MODEL, Usage(input_tokens=billed.input_tokens, output_tokens=billed.output_tokens)
    )
    assert row.workspace_id == fake_claude.config.workspace_id
    assert float(row.usd) == pytest.approx(expected)
    # And the usage report priced the same way agrees
    usage = admin.usage(start=start, end=end, api_key_ids=[fake_claude.config.api_key_id])
    assert reported_spend(usage, get_price_table(), fake_claude.config.api_key_id).usd == pytest.approx(
        expected
    )


@pytest.mark.parametrize("key", ["runtime", "none"])
def test_the_report_needs_the_admin_key(fake_claude: FakeClaudeServer, key: str) -> None:
    # Given a client with the runtime key (or none) instead of the admin key
    headers = {"anthropic-version": "2023-06-01"}
    if key == "runtime":
        headers["x-api-key"] = fake_claude.config.api_key
    api = AdminApi(httpx2.Client(base_url=fake_claude.base_url, headers=headers))
    start, end = _today()
    # When it reads the report, then it is refused as the API refuses a wrong key
    with pytest.raises(AdminApiError, match="401"):
        api.usage(start=start, end=end)
    api.close()


def test_a_bad_query_is_a_400_naming_the_parameter(fake_claude: FakeClaudeServer) -> None:
    response = httpx2.get(
        f"{fake_claude.base_url}/v1/organizations/usage_report/messages",
        params={"starting_at": "2026-12-01T00:00:00Z", "bucket_width": "1w"},
        headers={"x-api-key": PLACEHOLDER_ADMIN_API_KEY, "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 400
    assert "bucket_width" in response.json()["error"]["message"]
