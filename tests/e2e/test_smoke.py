"""`bin/kit smoke` against the local stack: a real stream over HTTP, one work item through SQS, the consumer
and the poller, and CloudWatch's dashboard and alarms (moto) as a deployment would have them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest

from batch_jobs import clients
from chat_api import lifecycle
from claude_kit import aws
from claude_kit.aws import aws_client
from local.stack import LocalStack
from ops.smoke import cli
from tests.integration.batch_jobs.support import close_claude_client

pytestmark = pytest.mark.slow


@pytest.fixture
def deployed(local_stack_env: LocalStack) -> Iterator[LocalStack]:
    """The local stack, plus the dashboard and one alarm the CDK stack would have created."""
    aws.reset()
    clients.reset()
    cloudwatch = aws_client("cloudwatch")
    cloudwatch.put_dashboard(DashboardName="claude-kit-local", DashboardBody=json.dumps({"widgets": []}))
    cloudwatch.put_metric_alarm(
        AlarmName="claude-kit-local-errors",
        Namespace="ClaudeServerlessKit",
        MetricName="Errors",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    yield local_stack_env
    # The app's connections to Claude belong to its event loop: let it close them, as before a snapshot.
    httpx2.post(local_stack_env.urls["chat API"] + lifecycle.BEFORE_CHECKPOINT_PATH).raise_for_status()
    cloudwatch.delete_alarms(AlarmNames=["claude-kit-local-errors"])
    cloudwatch.delete_dashboards(DashboardNames=["claude-kit-local"])
    close_claude_client()
    clients.reset()
    aws.reset()


def report(out: str) -> dict[str, dict[str, str]]:
    """The JSON report, by check name (the local consumer and poller log to the same stdout)."""
    document, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "env"') :])
    return {check["name"]: check for check in document["checks"]}


def smoke(stack: LocalStack, *extra: str) -> list[str]:
    chat_url = stack.urls["chat API"] + "/chat"
    return ["--env", "local", "--chat-url", chat_url, "--wait", "60", "--json", *extra]


def test_every_path_of_a_working_environment_passes(
    deployed: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the smoke test runs against the local environment, as a user of its chat API
    status = cli.main(smoke(deployed, "--header", "x-kit-user-id=smoke"))

    # Then every check passed, each saying what it saw
    checks = report(capsys.readouterr().out)
    assert {name: check["status"] for name, check in checks.items()} == {
        "chat": "ok",
        "batch": "ok",
        "monitoring": "ok",
    }, checks
    assert status == 0
    assert "deltas from claude-sonnet-5-5, stop_reason max_tokens" in checks["chat"]["detail"]
    assert "SUCCEEDED; results in s3://" in checks["batch"]["detail"]
    # (moto creates an alarm in OK, CloudWatch in INSUFFICIENT_DATA: either is fine, ALARM is not)
    assert checks["monitoring"]["detail"] in {
        f"dashboard claude-kit-local; alarms: 1 {state}" for state in ("OK", "INSUFFICIENT_DATA")
    }


def test_a_failing_path_is_named_and_fails_the_run(
    deployed: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an alarm firing, and a caller the API cannot identify (no user header, no authorizer)
    aws_client("cloudwatch").set_alarm_state(
        AlarmName="claude-kit-local-errors", StateValue="ALARM", StateReason="smoke test"
    )

    # When the smoke test runs
    status = cli.main(smoke(deployed, "--skip", "batch"))

    # Then the run fails, and each failed check says what is wrong
    checks = report(capsys.readouterr().out)
    assert status == 1
    assert checks["chat"]["status"] == "failed"
    assert "HTTP 401 unauthenticated" in checks["chat"]["detail"]
    assert checks["monitoring"]["status"] == "failed"
    assert checks["monitoring"]["detail"] == "in ALARM: claude-kit-local-errors"
