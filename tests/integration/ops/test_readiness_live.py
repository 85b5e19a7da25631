"""`bin/kit readiness --live` against moto: what AWS says about a deployed environment, read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from infra.config import EnvironmentConfig
from ops.readiness import live
from ops.readiness.report import Status
from ops.readiness.template_view import TemplateView
from ops.synthesis import SynthesizedEnvironment

SECRET = "/claude-kit/dev/anthropic-api-key"
SWITCH = "/claude-kit/dev/spend-switch"
ALARMS = ("claude-kit-dev-daily-cost", "claude-kit-dev-error-rate")


def _view() -> TemplateView:
    function = {"Environment": {"Variables": {"KIT_API_KEY_SECRET_NAME": SECRET}}}
    resources: dict[str, Any] = {"Fn": {"Type": "AWS::Lambda::Function", "Properties": function}}
    for index, name in enumerate(ALARMS):
        resources[f"Alarm{index}"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": name}}
    environment = SynthesizedEnvironment(
        env_name="dev", config=EnvironmentConfig(), templates={"claude-kit-dev": {"Resources": resources}}
    )
    return TemplateView(environment)


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def _deploy(session: boto3.Session, *, actions_enabled: bool = True) -> None:
    """What `make deploy` leaves: the placeholder secret, the open switch, the alarms."""
    session.client("secretsmanager").create_secret(Name=SECRET, SecretString="placeholder-from-the-stack")
    switch = json.dumps({"state": "open", "reason": "created by deployment"})
    session.client("ssm").put_parameter(Name=SWITCH, Value=switch, Type="String")
    cloudwatch = session.client("cloudwatch")
    for name in ALARMS:
        cloudwatch.put_metric_alarm(
            AlarmName=name, MetricName="CostUSD", Namespace="ClaudeServerlessKit", Statistic="Sum",
            Period=300, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            ActionsEnabled=actions_enabled,
        )  # fmt: skip


def test_placeholder_secret_fails_until_the_key_is_stored(aws: boto3.Session) -> None:
    # Given a freshly deployed environment
    _deploy(aws)
    assert live.secret_populated(_view(), aws).status is Status.FAIL

    # When the operator stores the key as docs/deploy.md says
    aws.client("secretsmanager").put_secret_value(SecretId=SECRET, SecretString="sk-ant-api03-test")

    # Then the item passes, without the value ever being read
    item = live.secret_populated(_view(), aws)
    assert item.status is Status.PASS
    assert "sk-ant" not in item.evidence


def test_missing_deployment_fails_the_secret_and_switch_items(aws: boto3.Session) -> None:
    assert live.secret_populated(_view(), aws).status is Status.FAIL
    assert "does not exist" in live.spend_switch(_view(), aws).evidence


def test_closed_spend_switch_warns_with_its_reason(aws: boto3.Session) -> None:
    _deploy(aws)
    closed = json.dumps({"state": "closed", "reason": "daily-cost alarm"})
    aws.client("ssm").put_parameter(Name=SWITCH, Value=closed, Type="String", Overwrite=True)

    item = live.spend_switch(_view(), aws)

    assert item.status is Status.WARN
    assert "daily-cost alarm" in item.evidence


@pytest.mark.parametrize(("enabled", "expected"), [(True, Status.PASS), (False, Status.FAIL)])
def test_alarm_actions_must_be_enabled(aws: boto3.Session, enabled: bool, expected: Status) -> None:
    _deploy(aws, actions_enabled=enabled)

    item = live.alarm_actions(_view(), aws)

    assert item.status is expected
    assert item.evidence.startswith("2 of 2 alarms deployed")


def test_billing_alerts_pass_once_billing_metrics_exist(aws: boto3.Session) -> None:
    assert live.billing_alerts(_view(), aws).status is Status.WARN

    usd = [{"Name": "Currency", "Value": "USD"}]
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/Billing",
        MetricData=[{"MetricName": "EstimatedCharges", "Value": 12.5, "Dimensions": usd}],
    )

    assert live.billing_alerts(_view(), aws).status is Status.PASS


def test_cost_allocation_tag_status_is_read_from_cost_explorer() -> None:
    # moto has no ListCostAllocationTags: Cost Explorer's answer is stubbed
    session = boto3.Session(region_name="us-east-1")
    ce = session.client("ce", region_name="us-east-1")
    answer = {"CostAllocationTags": [{"TagKey": "Environment", "Type": "UserDefined", "Status": "Inactive"}]}

    class OneClient:
        def client(self, *_: object, **__: object) -> Any:
            return ce

    with Stubber(ce) as stub:
        stub.add_response("list_cost_allocation_tags", answer, {"TagKeys": ["Environment"]})
        item = live.cost_allocation_tag(_view(), OneClient())

    assert item.status is Status.WARN
    assert "Inactive" in item.evidence


def test_without_credentials_every_live_item_says_it_was_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    items = live.live_items(_view(), boto3.Session(region_name="us-east-1"))

    assert len(items) == len(live.LIVE_CHECKS)
    assert all(item.status is Status.WARN and item.live for item in items)
    assert all(item.evidence.startswith("not checked: ") for item in items)
    assert sum(item.evidence == "not checked: no AWS credentials" for item in items) == len(items) - 1
