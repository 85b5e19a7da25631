"""The brakes end to end on the local stack, offline: a closed spend switch keeps queued work safe (nothing
received or burned, everything done after reopening), and the Claude bill (chat workload, its EMF cost metrics
in moto CloudWatch, reconciliation with the fake's Usage & Cost report, the monthly brake)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import pytest

from batch_jobs import clients
from batch_jobs.jobs import job_summary
from claude_kit.aws import aws_client
from claude_kit.pricing import get_price_table
from claude_kit.reservation import get_spend_gate
from local.batch_queues import BatchQueueServices
from local.fake_claude import PLACEHOLDER_API_KEY
from local.fake_claude.config import PLACEHOLDER_ADMIN_API_KEY
from local.stack import LocalStack
from ops import kit as cli
from reconciliation.admin_api import AdminApi
from reconciliation.bill import BillReport, ClaudeBill
from reconciliation.estimate import CostMetric
from reconciliation.settings import BillSettings
from reconciliation.warnings import BudgetWarnings, ParameterSentWarnings
from spend_guard import handler as guard_handler
from spend_guard.settings import get_guard_settings
from tests.fixtures.chat import ChatClient
from tests.fixtures.emf import put_emf_lines
from tests.integration.batch_jobs.support import close_claude_client

pytestmark = pytest.mark.slow

ITEMS = 20


@pytest.fixture
def batch_stack(local_stack_env: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("KIT_PAUSED_REDELIVERY_DELAY_SECONDS", "1")
    clients.reset()
    yield local_stack_env
    _set_switch(local_stack_env, "open")
    _event_sources(local_stack_env).pause_with_switch = True
    close_claude_client()
    clients.reset()


def _event_sources(stack: LocalStack) -> BatchQueueServices:
    return next(s for s in stack.services if isinstance(s, BatchQueueServices))


def _set_switch(stack: LocalStack, state: str) -> None:
    value = {"state": state, "reason": "operator", "detail": "spend pause test"}
    aws_client("ssm").put_parameter(
        Name=stack.env["KIT_SPEND_SWITCH_PARAMETER"], Value=json.dumps(value), Type="String", Overwrite=True
    )
    get_spend_gate.cache_clear()


def _queue_counts(stack: LocalStack, suffix: str = "") -> tuple[int, int]:
    """(waiting: visible or delayed, in flight: received and not yet deleted)."""
    sqs = aws_client("sqs")
    url = sqs.get_queue_url(QueueName=f"claude-kit-{stack.env_name}-default{suffix}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesDelayed"]
    )
    return waiting, int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _work_file(tmp_path: Path, name: str) -> Path:
    items = tmp_path / f"{name}.jsonl"
    params = {"max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}
    items.write_text(
        "".join(json.dumps({"custom_id": f"{name}-{n}", "params": params}) + "\n" for n in range(ITEMS))
    )
    return items


def _wait_for(job_id: str, timeout_seconds: float = 90) -> dict[str, int]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            summary = job_summary(clients.get_job_store(), job_id)
        except KeyError:
            # moto's UpdateItem is not atomic across server threads: a read racing the consumer's open_job can
            # see the new item with its keys only. DynamoDB never shows that; read again.
            summary = None
        if summary is not None and summary.status == "COMPLETED":
            return summary.counts
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not complete within {timeout_seconds} s")


def test_queued_items_wait_for_a_closed_switch_and_all_succeed_after_reopening(
    batch_stack: LocalStack, tmp_path: Path
) -> None:
    assert batch_stack.fake is not None
    sources = _event_sources(batch_stack)
    # Given a closed spend switch whose closing disabled the consumers' mapping
    _set_switch(batch_stack, "closed")
    # When 20 items are enqueued and the switch stays closed
    assert (
        cli.main(["enqueue", str(_work_file(tmp_path, "a")), "--env", "local", "--job-id", "paused-a"]) == 0
    )
    time.sleep(2)
    # Then nothing was received (every receive count is still 0), nothing reached Claude or the DLQ
    assert _queue_counts(batch_stack) == (ITEMS, 0)
    # When the mapping is on again while the switch is still closed (a failed disable, a hand-edited switch)
    # and 20 more items arrive
    sources.pause_with_switch = False
    assert (
        cli.main(["enqueue", str(_work_file(tmp_path, "b")), "--env", "local", "--job-id", "paused-b"]) == 0
    )
    time.sleep(2.5)
    # Then the consumer parks what it receives: still nothing to Claude, nothing in the DLQ, all 40 queued (a
    # batch being parked right now is briefly there twice: copy sent, original not yet deleted)
    assert batch_stack.fake.batch_custom_ids() == []
    assert _queue_counts(batch_stack, "-dlq") == (0, 0)
    assert sum(_queue_counts(batch_stack)) >= 2 * ITEMS
    # When the switch reopens
    _set_switch(batch_stack, "open")
    # Then every item of both succeeds, each on its first counted receive, and the DLQ stays empty
    for job_id in ("paused-a", "paused-b"):
        assert _wait_for(job_id) == {"SUCCEEDED": ITEMS}
        items = list(clients.get_job_store().items(job_id))
        assert sorted(int(item["receive_count"]) for item in items) == [1] * ITEMS
    assert _queue_counts(batch_stack, "-dlq") == (0, 0)


pytestmark = pytest.mark.slow

#: The drift alarm's default threshold (alerts.claude_drift_percent).
DRIFT_THRESHOLD_PERCENT = 5.0


class LambdaContext:
    function_name = "claude-kit-local-spend-guard"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:claude-kit-local-spend-guard"
    aws_request_id = "6c1f4e3a-5b6c-4d7e-8f90-a1b2c3d4e5f6"


@pytest.fixture
def guard(local_stack_env: LocalStack) -> Iterator[Any]:
    get_guard_settings.cache_clear()
    guard_handler.get_spend_guard.cache_clear()
    yield guard_handler.handler
    guard_handler.handler(
        {"action": "reopen", "reason": "test over", "requested_by": "tests"}, LambdaContext()
    )
    get_guard_settings.cache_clear()
    guard_handler.get_spend_guard.cache_clear()


def _run(stack: LocalStack, guard: Any, *, monthly_usd: float) -> BillReport:
    """One run of the function as the construct configures it, on the local stack: reconciliation on, no
    report delay."""
    assert stack.fake is not None
    settings = BillSettings(
        env_name=stack.env_name,
        claude_daily_usd=100.0,
        claude_monthly_usd=monthly_usd,
        anthropic_api_key_id=stack.fake.config.api_key_id,
        admin_api_base_url=stack.fake.base_url,
        report_delay_minutes=0,
    )

    def close_switch(detail: str) -> None:
        command = {
            "action": "close",
            "cause": "claude_monthly_budget",
            "reason": detail,
            "requested_by": "brake",
        }
        guard(command, LambdaContext())

    admin = AdminApi.connect(PLACEHOLDER_ADMIN_API_KEY, base_url=stack.fake.base_url)
    bill = ClaudeBill(
        settings=settings,
        cost_metric=CostMetric(aws_client("cloudwatch"), env_name=stack.env_name),
        prices=get_price_table(),
        admin_api=admin,
        warnings=BudgetWarnings(
            env_name=stack.env_name,
            percents=(50, 80, 100),
            daily_usd=settings.claude_daily_usd,
            monthly_usd=monthly_usd,
            sent=ParameterSentWarnings(aws_client("ssm"), f"/claude-kit/{stack.env_name}/warnings"),
            notify=lambda _subject, _body: None,
        ),
        close_switch=close_switch,
        publish=lambda _figures: None,
    )
    try:
        return bill.run()
    finally:
        admin.close()


def _workload(chat: ChatClient, capfd: pytest.CaptureFixture[str]) -> None:
    """Chat turns through the kit (streamed and whole); their EMF lines become CloudWatch metrics."""
    for n in range(4):
        response = chat.post(message=f"Question {n}: what does a dead-letter queue hold?", stream=n % 2 == 0)
        assert response.status_code == 200, response.text
    assert put_emf_lines(aws_client("cloudwatch"), capfd.readouterr().out) >= 4


def test_the_kits_estimate_matches_the_report_and_outside_spend_shows_as_drift(
    chat: ChatClient, local_stack_env: LocalStack, guard: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a chat workload through the kit
    _workload(chat, capfd)
    billed = chat.fake.billed_totals()
    assert billed.calls == 4
    # When the hourly run reconciles the kit's estimate with the fake's Usage & Cost report
    first = _run(local_stack_env, guard, monthly_usd=1000)
    # Then the report has every token the fake billed, and the estimate agrees with it
    recon = first.reconciliation
    assert recon is not None
    assert (recon.reported.usage.input_tokens, recon.reported.usage.output_tokens) == (
        billed.input_tokens,
        billed.output_tokens,
    )
    assert recon.reported.usd > 0
    assert recon.drift_percent == pytest.approx(0, abs=0.01)
    assert first.metrics()["CostDriftPercent"] < DRIFT_THRESHOLD_PERCENT

    # When the same key spends outside the kit (calls straight to the fake)
    with anthropic.Anthropic(
        base_url=chat.fake.base_url, api_key=PLACEHOLDER_API_KEY, max_retries=0
    ) as outside:
        for _ in range(4):
            outside.messages.create(
                model="claude-sonnet-5-5",
                max_tokens=400,
                messages=[{"role": "user", "content": "Spend, unseen"}],
            )
    second = _run(local_stack_env, guard, monthly_usd=1000)
    # Then the drift metric is above the alarm's threshold, and nothing was braked
    assert second.metrics()["CostDriftPercent"] > DRIFT_THRESHOLD_PERCENT
    assert second.reported_month_to_date_usd is not None
    assert second.reported_month_to_date_usd > second.estimated_month_to_date_usd
    assert not second.closed_switch


def test_reported_month_to_date_over_the_monthly_budget_closes_the_switch(
    chat: ChatClient, local_stack_env: LocalStack, guard: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given spend this month, part of it outside the kit, and a monthly Claude budget below what was reported
    _workload(chat, capfd)
    with anthropic.Anthropic(
        base_url=chat.fake.base_url, api_key=PLACEHOLDER_API_KEY, max_retries=0
    ) as outside:
        outside.messages.create(
            model="claude-sonnet-5-5", max_tokens=400, messages=[{"role": "user", "content": "x"}]
        )
    probe: BillReport = _run(local_stack_env, guard, monthly_usd=1000)
    assert probe.reported_month_to_date_usd is not None
    budget = (probe.estimated_month_to_date_usd + probe.reported_month_to_date_usd) / 2
    # When the hourly run sees the reported month-to-date figure above it
    report = _run(local_stack_env, guard, monthly_usd=budget)
    # Then the switch is closed with reason claude_monthly_budget, and the chat API says so
    assert report.closed_switch
    (status,) = guard({"action": "status", "requested_by": "tests"}, LambdaContext())["outcomes"]
    assert status["state"]["reason"] == "claude_monthly_budget"
    response = chat.post(message="Still there?", stream=False)
    assert response.status_code == 503
    assert "monthly Claude budget" in response.json()["error"]["message"]


@pytest.mark.usefixtures("local_stack_env")
def test_the_month_is_counted_from_its_first_day() -> None:
    # Given the kit's cost metric with spend at the end of last month and early this month
    cloudwatch = aws_client("cloudwatch")
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    env_name = "month-boundary"  # its own environment: the other tests' calls are in "local"
    metric = {"MetricName": "CostUSD", "Dimensions": [{"Name": "Environment", "Value": env_name}]}
    cloudwatch.put_metric_data(
        Namespace="ClaudeServerlessKit",
        MetricData=[
            {**metric, "Timestamp": month_start - timedelta(hours=2), "Value": 7.0},
            {**metric, "Timestamp": month_start + timedelta(minutes=30), "Value": 2.5},
        ],
    )
    # When the month's estimate is read
    spent = CostMetric(cloudwatch, env_name=env_name).usd_between(month_start, now + timedelta(hours=1))
    # Then only this month's spend counts
    assert spent == pytest.approx(2.5)
