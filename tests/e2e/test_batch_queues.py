"""The local stack runs batch queues like AWS does: SQS → consumer (event source loop) → Message Batches →
poller on its schedule → results in S3, without a test driving any step."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from batch_jobs import clients
from batch_jobs.jobs import job_summary
from claude_kit.aws import aws_client
from local.stack import LocalStack
from ops import kit as cli
from tests.integration.batch_jobs.support import close_claude_client

pytestmark = pytest.mark.slow


@pytest.fixture
def batch_stack(local_stack_env: LocalStack) -> Iterator[LocalStack]:
    clients.reset()
    yield local_stack_env
    close_claude_client()
    clients.reset()


def _wait_for_completion(job_id: str, timeout_seconds: float = 90) -> dict[str, int]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        summary = job_summary(clients.get_job_store(), job_id)
        if summary is not None and summary.status == "COMPLETED":
            return summary.counts
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not complete within {timeout_seconds} s")


def test_enqueued_job_completes_on_its_own(batch_stack, tmp_path):
    # Given 20 work items in a JSONL file
    items = tmp_path / "work.jsonl"
    items.write_text(
        "".join(
            json.dumps(
                {
                    "custom_id": f"e2e-{n}",
                    "user_id": "alice",
                    "params": {"max_tokens": 32, "messages": [{"role": "user", "content": "Hi"}]},
                }
            )
            + "\n"
            for n in range(20)
        )
    )

    # When they are enqueued with the CLI against the local environment
    assert cli.main(["enqueue", str(items), "--env", "local", "--job-id", "e2e-job"]) == 0

    # Then the stack's event source, consumer and poller finish the job, and its results are in S3
    assert _wait_for_completion("e2e-job") == {"SUCCEEDED": 20}
    s3 = aws_client("s3")
    bucket = batch_stack.env["KIT_RESULTS_BUCKET"]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="results/e2e-job/")["Contents"]]
    lines = [
        line for key in keys for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
    ]
    assert sorted(json.loads(line)["custom_id"] for line in lines) == sorted(f"e2e-{n}" for n in range(20))

    # And the chat API shows the job to its owner only
    chat_url = batch_stack.urls["chat API"]
    as_alice = httpx2.get(f"{chat_url}/jobs/e2e-job", headers={"x-kit-user-id": "alice"})
    as_bob = httpx2.get(f"{chat_url}/jobs/e2e-job", headers={"x-kit-user-id": "bob"})
    assert as_alice.status_code == 200, as_alice.text
    assert as_alice.json()["counts"] == {"SUCCEEDED": 20}
    assert as_alice.json()["status"] == "COMPLETED"
    assert as_bob.status_code == 404


def test_bin_kit_enqueues_and_reports_a_job_as_an_operator_would(batch_stack, tmp_path):
    # Given a work-item file with one valid item and one line that is not JSON
    items = tmp_path / "work.jsonl"
    valid = {
        "custom_id": "cli-1",
        "params": {"max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]},
    }
    items.write_text(json.dumps(valid) + "\n{not json\n")
    kit = [str(Path(__file__).parents[2] / "bin" / "kit")]

    # When the operator runs bin/kit enqueue, then bin/kit results, against the local environment
    enqueued = subprocess.run(
        [*kit, "enqueue", str(items), "--env", "local", "--job-id", "cli-job"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    _wait_for_completion("cli-job")
    results = subprocess.run(
        [*kit, "results", "cli-job", "--env", "local", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Then the bad line is reported by number and not sent, and the job's results are shown
    assert "line 2" in enqueued.stdout + enqueued.stderr
    assert "cli-job" in enqueued.stdout
    assert results.returncode == 0, results.stderr
    assert json.loads(results.stdout)["counts"] == {"SUCCEEDED": 1}


def test_bin_kit_without_a_command_prints_its_usage():
    kit = Path(__file__).parents[2] / "bin" / "kit"

    done = subprocess.run([str(kit)], capture_output=True, text=True, timeout=30, check=False)

    assert done.returncode == 2
    assert "bin/kit enqueue FILE.jsonl" in done.stderr
