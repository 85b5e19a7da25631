"""1,000 items all the way: CLI → SQS → consumer → Message Batches → poller → S3 and completion events."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from batch_jobs import clients
from batch_jobs.collection import BatchCollector
from claude_kit.aws import aws_client
from local.fake_claude import Fault
from ops import kit as cli
from tests.integration.batch_jobs.support import work_item

pytestmark = pytest.mark.slow


def _write_jsonl(path: Path, count: int) -> Path:
    path.write_text(
        "".join(json.dumps(work_item(f"item-{n:04d}", user_id="user-1")) + "\n" for n in range(count))
    )
    return path


def _job_id(output: str) -> str:
    return next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("job_id: "))


def test_thousand_items_end_in_exactly_one_final_state_and_one_results_line(
    world, fake_claude, tmp_path, capsys
):
    # Given 1,000 valid items, of which the fake will error 10 and expire 100
    fake_claude.inject(Fault.batch_item("item-000?", "errored"), Fault.batch_item("item-01??", "expired"))
    items = _write_jsonl(tmp_path / "work.jsonl", 1000)

    # When they are enqueued with the CLI, consumed, and the poller runs once the batches have ended
    assert cli.main(["enqueue", str(items), "--env", "test", "--queue", "default"]) == 0
    job_id = _job_id(capsys.readouterr().out)
    delivery = world.source("default").drain()
    report = world.poll()

    # Then SQS delivered every item once and the consumer submitted each custom_id exactly once
    assert (delivery.received, delivery.failed) == (1000, 0)
    submitted = fake_claude.batch_custom_ids()
    assert len(submitted) == len(set(submitted)) == 1000
    assert report.batches_collected == report.batches_open >= 1
    # And every item is in exactly one final state, the counts adding up to what was enqueued
    summary = clients.get_job_store().item_counts(job_id)
    assert summary == Counter({"SUCCEEDED": 890, "EXPIRED": 100, "ERRORED": 10})
    # And each item appears exactly once across the job's results files, with the state it was given
    lines = [
        json.loads(line)
        for key in world.object_keys(f"results/{job_id}/")
        for line in world.read_object(key).splitlines()
    ]
    assert sorted(line["custom_id"] for line in lines) == [f"item-{n:04d}" for n in range(1000)]
    assert Counter(line["result"]["type"] for line in lines) == {
        "succeeded": 890,
        "expired": 100,
        "errored": 10,
    }
    # And one completion event announced the job with the same counts
    (event,) = world.completion_events()
    assert event["detail"]["job_id"] == job_id
    assert event["detail"]["counts"] == {"ERRORED": 10, "EXPIRED": 100, "SUCCEEDED": 890}
    assert event["detail"]["total"] == event["detail"]["expected_items"] == 1000


def test_requeued_expired_items_are_submitted_again_and_the_job_completes_anew(
    world, fake_claude, tmp_path, capsys
):
    # Given a finished job whose 5 expired items the fake would now answer
    fake_claude.inject(Fault.batch_item("item-000[0-4]", "expired"))
    assert cli.main(["enqueue", str(_write_jsonl(tmp_path / "work.jsonl", 20)), "--env", "test"]) == 0
    job_id = _job_id(capsys.readouterr().out)
    world.source().drain()
    world.poll()
    assert world.completion_events()
    fake_claude.reset()

    # When the expired items are requeued with the CLI, consumed and collected
    assert cli.main(["requeue", job_id, "--env", "test", "--states", "EXPIRED"]) == 0
    requeue_output = capsys.readouterr().out
    world.source().drain()
    world.poll()

    # Then exactly those 5 were sent to Claude again, and the job is complete with no expired item left
    assert "requeued: 5" in requeue_output
    assert sorted(fake_claude.batch_custom_ids()) == [f"item-000{n}" for n in range(5)]
    assert clients.get_job_store().item_counts(job_id) == Counter({"SUCCEEDED": 20})
    (event,) = world.completion_events()
    assert event["detail"]["counts"] == {"SUCCEEDED": 20}


def test_a_requeue_whose_send_failed_can_be_run_again(world, fake_claude, tmp_path, capsys, monkeypatch):
    # Given a finished job with 2 expired items, and a requeue that marked them but failed to send
    fake_claude.inject(Fault.batch_item("item-000[0-1]", "expired"))
    assert cli.main(["enqueue", str(_write_jsonl(tmp_path / "work.jsonl", 4)), "--env", "test"]) == 0
    job_id = _job_id(capsys.readouterr().out)
    world.source().drain()
    world.poll()
    fake_claude.reset()
    sqs = aws_client("sqs")

    def unavailable(**kwargs):
        raise RuntimeError("SQS unavailable")

    monkeypatch.setattr(sqs, "send_message_batch", unavailable)
    with pytest.raises(RuntimeError):
        cli.main(["requeue", job_id, "--env", "test", "--states", "EXPIRED"])
    monkeypatch.undo()
    assert clients.get_job_store().item_counts(job_id)["REQUEUED"] == 2

    # When the operator runs the requeue again for the items left REQUEUED
    assert cli.main(["requeue", job_id, "--env", "test", "--states", "REQUEUED"]) == 0
    world.source().drain()
    world.poll()

    # Then they are sent and the job completes
    assert sorted(fake_claude.batch_custom_ids()) == ["item-0000", "item-0001"]
    assert clients.get_job_store().item_counts(job_id) == Counter({"SUCCEEDED": 4})


def test_a_batch_that_cannot_be_collected_does_not_hold_back_the_others(world, tmp_path, capsys, monkeypatch):
    # Given two jobs whose Message Batches have ended, one of which cannot be collected
    assert (
        cli.main(["enqueue", str(_write_jsonl(tmp_path / "a.jsonl", 3)), "--env", "test", "--job-id", "a"])
        == 0
    )
    assert (
        cli.main(["enqueue", str(_write_jsonl(tmp_path / "b.jsonl", 3)), "--env", "test", "--job-id", "b"])
        == 0
    )
    capsys.readouterr()
    world.source().drain()
    collect = BatchCollector.collect

    def results_unreadable_for_job_a(self, batch):
        if batch.job_id == "a":
            raise RuntimeError("results file unreadable")
        return collect(self, batch)

    monkeypatch.setattr(BatchCollector, "collect", results_unreadable_for_job_a)

    # When the poller runs
    report = world.poll()

    # Then the other job is collected and announced complete
    assert report.batches_collected == 1
    assert clients.get_job_store().item_counts("b") == Counter({"SUCCEEDED": 3})
    assert [event["detail"]["job_id"] for event in world.completion_events()] == ["b"]


def test_results_command_prints_counts_and_where_the_results_are(world, tmp_path, capsys):
    # Given a collected job of 3 items
    assert cli.main(["enqueue", str(_write_jsonl(tmp_path / "work.jsonl", 3)), "--env", "test"]) == 0
    job_id = _job_id(capsys.readouterr().out)
    world.source().drain()
    world.poll()

    # When its results are asked for
    status = cli.main(["results", job_id, "--env", "test"])

    # Then the state counts and the S3 prefix of its JSONL files are printed
    output = capsys.readouterr().out
    assert status == 0
    assert f"job {job_id}: COMPLETED" in output
    assert "SUCCEEDED          3" in output
    assert f"results: s3://{world.bucket}/results/{job_id}/" in output
