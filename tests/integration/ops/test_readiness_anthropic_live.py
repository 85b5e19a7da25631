"""The workspace spend limit read through the Admin API: the admin key from Secrets Manager (moto), the API's
answer from a mock transport under the real `anthropic` SDK."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import boto3
import httpx2
import pytest
from moto import mock_aws

from infra.config import EnvironmentConfig
from ops.readiness.anthropic_live import workspace_spend_limit
from ops.readiness.report import Status

ADMIN_SECRET = "/claude-kit/prod/anthropic-admin-key"
WORKSPACE = "wrkspc_01ProdWorkspace"


def _config(**claude: Any) -> EnvironmentConfig:
    settings = {"workspace_id": WORKSPACE, "admin_key_secret_name": ADMIN_SECRET, **claude}
    return EnvironmentConfig.model_validate({"claude": settings})


def _limit(amount: str | None, period: str = "monthly") -> dict[str, Any]:
    return {
        "id": "spl_01", "type": "spend_limit", "amount": amount, "currency": "USD", "is_enabled": True,
        "period": period, "scope": {"type": "workspace", "workspace_id": WORKSPACE},
        "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
    }  # fmt: skip


def _admin_api(
    status: int, body: dict[str, Any], seen: list[httpx2.Request]
) -> Callable[[str], anthropic.Anthropic]:
    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(status, json=body)

    def factory(admin_key: str) -> anthropic.Anthropic:
        client = httpx2.Client(transport=httpx2.MockTransport(handle))
        return anthropic.Anthropic(api_key=admin_key, http_client=client, max_retries=0)

    return factory


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("secretsmanager").create_secret(Name=ADMIN_SECRET, SecretString="sk-ant-admin01-test")
        yield session


def test_limit_matching_the_attestation_passes(aws: boto3.Session) -> None:
    seen: list[httpx2.Request] = []
    page = {"data": [_limit("25000")], "next_page": None}

    item = workspace_spend_limit(
        _config(workspace_spend_limit_usd=250), aws, client_factory=_admin_api(200, page, seen)
    )

    assert item.status is Status.PASS
    assert item.evidence.startswith("250 USD per month on wrkspc_01ProdWorkspace")
    (request,) = seen
    assert request.url.path == "/v1/organizations/spend_limits"
    assert request.url.params["workspace_id"] == WORKSPACE
    assert "spend-limit-reads-2026-09-26" in request.headers["anthropic-beta"]
    assert "sk-ant-admin01-test" not in item.evidence


@pytest.mark.parametrize(
    ("limits", "attested", "expected"),
    [
        ([_limit("50000")], 250, "Anthropic reports 500 USD per month"),
        ([_limit(None), _limit("1000", period="daily")], 250, "no monthly spend limit"),
    ],
)
def test_a_missing_or_different_limit_fails(
    aws: boto3.Session, limits: list[Any], attested: float, expected: str
) -> None:
    page = {"data": limits, "next_page": None}

    item = workspace_spend_limit(_config(workspace_spend_limit_usd=attested), aws,
                                 client_factory=_admin_api(200, page, []))  # fmt: skip

    assert item.status is Status.FAIL
    assert expected in item.evidence


def test_an_organization_without_the_preview_is_not_checked(aws: boto3.Session) -> None:
    error = {"type": "error", "error": {"type": "permission_error", "message": "not enabled"}}

    item = workspace_spend_limit(_config(), aws, client_factory=_admin_api(403, error, []))

    assert item.status is Status.WARN
    assert item.evidence == "not checked: the Admin API answered 403 (permission_error)"


def test_without_the_admin_key_secret_the_item_is_not_checked(aws: boto3.Session) -> None:
    item = workspace_spend_limit(
        _config(admin_key_secret_name="/missing"), aws, client_factory=_admin_api(200, {}, [])
    )

    assert item.status is Status.WARN
    assert "cannot read /missing" in item.evidence
