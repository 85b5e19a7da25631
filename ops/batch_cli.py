"""`bin/kit enqueue | results | requeue | dlq`: batch queues from an operator's terminal.

The domain work (validation, sending, requeueing, summaries) lives in functions/batch_jobs; this module adds
what a person needs around it: progress while sending or waiting, tables, `--json`, downloads of results.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from batch_jobs.enqueue import (
    REQUEUEABLE_STATES,
    EnqueueReport,
    Outgoing,
    QueueSender,
    new_job_id,
    requeue,
    resolve_queue_url,
    validate_lines,
)
from batch_jobs.jobs import JobSummary, job_summary
from batch_jobs.settings import BatchSettings, item_limits
from batch_jobs.store import FINAL_STATES, ItemState, JobStore
from claude_kit import contract
from claude_kit.aws import aws_client, dynamodb_table
from claude_kit.settings import get_settings
from ops import console
from ops.errors import OperatorError

#: Messages per progress update while sending (SendMessageBatch itself takes 10).
_SEND_CHUNK = 100
#: Items whose error reason `results` prints before pointing at --json for the rest.
_ERRORS_SHOWN = 20
_PROBLEM_STATES = (ItemState.ERRORED, ItemState.EXPIRED, ItemState.CANCELED, ItemState.REJECTED)


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    enqueue = commands.add_parser(
        "enqueue", parents=[common], help="validate a JSONL file of work items and send it to a queue"
    )
    enqueue.add_argument("file", type=Path)
    enqueue.add_argument("--queue", default="default", help="queue name from cdk.json batch.queues[]")
    enqueue.add_argument("--job-id", help="default: a new job id; reuse one to resume an interrupted run")
    enqueue.add_argument("--dry-run", action="store_true", help="validate only, send nothing")
    enqueue.set_defaults(run=_enqueue)

    results = commands.add_parser(
        "results", parents=[common], help="a job's counts per state, its failed items and its results"
    )
    results.add_argument("job_id")
    results.add_argument("--wait", action="store_true", help="wait until every item is final")
    results.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits at most")
    results.add_argument("--interval", type=float, default=2.0, help="seconds between looks while waiting")
    results.add_argument("--download", type=Path, metavar="DIR", help="copy the job's result files here")
    results.set_defaults(run=_results)

    states = ", ".join(sorted(state.value for state in REQUEUEABLE_STATES))
    again = commands.add_parser("requeue", parents=[common], help="send a job's unfinished items again")
    again.add_argument("job_id")
    again.add_argument("--states", default="EXPIRED,ERRORED", help=f"comma-separated, of: {states}")
    again.set_defaults(run=_requeue)

    dlq = commands.add_parser("dlq", help="a queue's dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_action", required=True)
    redrive = dlq_commands.add_parser(
        "redrive", parents=[common], help="move every message of a queue's DLQ back to the queue"
    )
    redrive.add_argument("--queue", default="default", help="queue name from cdk.json batch.queues[]")
    redrive.set_defaults(run=_redrive)


def _settings(args: argparse.Namespace) -> BatchSettings:
    return BatchSettings(env_name=args.target.env_name)


def _job_store(settings: BatchSettings) -> JobStore:
    """Not through batch_jobs.clients: its Claude clients would cost every bin/kit start seconds."""
    return JobStore(dynamodb_table(settings.table_name), ttl_days=settings.results_expire_days)


def _sender(settings: BatchSettings, queue: str) -> QueueSender:
    sqs = aws_client("sqs")
    return QueueSender(sqs, _queue_url(sqs, settings, queue), max_message_bytes=settings.max_message_bytes)


def _queue_url(sqs: Any, settings: BatchSettings, queue: str, suffix: str = "") -> str:
    """The queue's URL, or one line naming the queues this environment has."""
    try:
        if not suffix:
            return resolve_queue_url(sqs, settings, queue)
        return str(sqs.get_queue_url(QueueName=settings.sqs_queue_name(queue) + suffix)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        prefix = settings.sqs_queue_name(queue).removesuffix(queue)
        names = sorted(
            url.rsplit("/", 1)[-1].removeprefix(prefix)
            for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
            if not url.endswith(("-dlq", "-switch"))
        )
        known = ", ".join(names) or "none"
        raise OperatorError(
            f"environment {settings.env_name!r} has no queue {queue!r} (its queues: {known}): "
            "use --queue NAME, as in cdk.json batch.queues"
        ) from None


def _enqueue(args: argparse.Namespace) -> int:
    settings = _settings(args)
    job_id = args.job_id or new_job_id()
    with args.file.open(encoding="utf-8") as lines:
        valid, invalid, count = validate_lines(
            lines, job_id=job_id, limits=item_limits(get_settings(), settings)
        )
    sender = None if args.dry_run else _sender(settings, args.queue)
    report = EnqueueReport(
        job_id=job_id, queue_url=sender.queue_url if sender else "(dry run)", lines=count, invalid=invalid
    )
    if sender is not None and valid:
        report.failed = _send_with_progress(sender, valid)
        report.sent = len(valid) - len(report.failed)
    if args.json:
        console.print_json(
            {
                "job_id": report.job_id,
                "queue_url": report.queue_url,
                "items": report.lines,
                "valid": len(valid),
                "sent": report.sent,
                "invalid": [{"line": e.line, "reason": e.reason, "errors": e.errors} for e in invalid],
                "not_sent": [{"line": f.ref, "reason": f.reason} for f in report.failed],
            }
        )
        return 0 if report.ok else 1
    console.say(f"job_id: {report.job_id}")
    console.say(f"queue: {report.queue_url}")
    console.say(f"items: {report.lines}  valid: {len(valid)}  invalid: {len(invalid)}  sent: {report.sent}")
    for error in report.invalid:
        console.say(f"line {error.line}: {error.reason}")
        for detail in error.errors:
            console.say(f"    {detail}")
    for failure in report.failed:
        console.say(f"line {failure.ref}: not sent: {failure.reason}")
    if report.sent:
        console.note(f"follow it with: bin/kit results {job_id} {_target_flag(args)} --wait")
    return 0 if report.ok else 1


def _send_with_progress(sender: QueueSender, messages: Sequence[Outgoing]) -> list[Any]:
    failed = []
    with console.progress() as bar:
        task = bar.add_task("sending", total=len(messages))
        for start in range(0, len(messages), _SEND_CHUNK):
            chunk = messages[start : start + _SEND_CHUNK]
            failed.extend(sender.send(chunk, job_items=len(messages)))
            bar.advance(task, len(chunk))
    return failed


def _requeue(args: argparse.Namespace) -> int:
    states = [state.strip().upper() for state in args.states.split(",") if state.strip()]
    allowed = {state.value for state in REQUEUEABLE_STATES}
    if unknown := [state for state in states if state not in allowed]:
        raise OperatorError(
            f"cannot requeue items in {', '.join(unknown)}: choose from {', '.join(sorted(allowed))}"
        )
    settings = _settings(args)
    report = requeue(_job_store(settings), lambda queue: _sender(settings, queue), args.job_id, states)
    if args.json:
        console.print_json(
            {
                "job_id": args.job_id,
                "states": states,
                "requeued": report.requeued,
                "not_sent": [{"custom_id": f.ref, "reason": f.reason} for f in report.failed],
            }
        )
    else:
        console.say(
            f"job_id: {args.job_id}  states: {', '.join(states)}  requeued: {report.requeued}  "
            f"not sent: {len(report.failed)}"
        )
        for failure in report.failed:
            console.say(f"{failure.ref}: not sent: {failure.reason}")
    return 0 if not report.failed else 1


def _results(args: argparse.Namespace) -> int:
    settings = _settings(args)
    jobs = _job_store(settings)
    if args.wait:
        summary = _wait(lambda: job_summary(jobs, args.job_id), args.timeout, args.interval)
    else:
        summary = job_summary(jobs, args.job_id)
    if summary is None:
        raise OperatorError(
            f"no job {args.job_id!r} in {settings.table_name}: check the id (enqueue printed it) and --env"
        )
    problems = [_problem(record) for record in jobs.items(args.job_id, [s.value for s in _PROBLEM_STATES])]
    downloaded = _download(summary, args.download) if args.download else None
    if args.json:
        console.print_json(
            {
                **summary.to_dict(),
                "problems": problems,
                "downloaded": downloaded and [str(p) for p in downloaded],
            }
        )
    else:
        _print_summary(summary, problems)
        if downloaded is not None:
            console.say(f"downloaded {len(downloaded)} file(s) to {args.download}")
    if args.wait and not _done(summary):
        console.note(f"job {args.job_id} is not finished after {args.timeout:g} s")
        return 1
    return 0


def _wait(read: Callable[[], JobSummary | None], timeout: float, interval: float) -> JobSummary | None:
    """Look every `interval` s until the job is finished or `timeout` passes; a bar counts final items."""
    deadline = time.monotonic() + timeout
    summary = read()
    with console.progress() as bar:
        task = bar.add_task("waiting", total=None)
        while True:
            if summary is not None:
                final = sum(count for state, count in summary.counts.items() if state in FINAL_STATES)
                total = summary.expected_items if summary.expected_items is not None else summary.total
                bar.update(task, completed=final, total=max(total, final) or None)
                if _done(summary):
                    return summary
            if time.monotonic() >= deadline:
                return summary
            time.sleep(interval)
            summary = read()


def _done(summary: JobSummary) -> bool:
    """Every item final and the poller has closed the job (its results written, its event sent)."""
    return summary.finished and summary.status == "COMPLETED"


def _problem(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "custom_id": record["custom_id"],
        "state": record["state"],
        "error_type": record.get("error_type"),
        "error_message": record.get("error_message"),
    }


def _print_summary(summary: JobSummary, problems: list[dict[str, Any]]) -> None:
    console.say(f"job {summary.job_id}: {summary.status} (queue {summary.queue}, {summary.mode} mode)")
    expected = "unknown" if summary.expected_items is None else str(summary.expected_items)
    console.say(f"items: {summary.total} known, {expected} expected")
    for state, count in summary.counts.items():
        console.say(f"  {state:<12}{count:>8}")
    console.say(f"results: {summary.results_uri}")
    if problems:
        console.table(
            f"items that did not succeed ({len(problems)})",
            ("custom_id", "state", "reason"),
            (
                (p["custom_id"], p["state"], ": ".join(filter(None, (p["error_type"], p["error_message"]))))
                for p in problems[:_ERRORS_SHOWN]
            ),
        )
        if len(problems) > _ERRORS_SHOWN:
            console.say(f"… and {len(problems) - _ERRORS_SHOWN} more: --json lists them all")


def _download(summary: JobSummary, directory: Path) -> list[Path]:
    """Every object under the job's results and rejections prefixes, keeping their relative paths."""
    if not summary.results_uri or not summary.results_uri.startswith("s3://"):
        raise OperatorError(f"job {summary.job_id} has no results location yet: try again once it has items")
    bucket = summary.results_uri.removeprefix("s3://").split("/", 1)[0]
    s3 = aws_client("s3")
    keys = [
        item["Key"]
        for prefix in (contract.RESULTS_PREFIX, contract.REJECTIONS_PREFIX)
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{prefix}{summary.job_id}/"
        )
        for item in page.get("Contents", [])
    ]
    written = []
    with console.progress() as bar:
        task = bar.add_task("downloading", total=len(keys))
        for key in keys:
            path = directory / key
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(path))
            written.append(path)
            bar.advance(task)
    return written


def _redrive(args: argparse.Namespace) -> int:
    """Receive from the DLQ, send to the queue, delete: works on AWS and on moto, which lacks the SQS
    message-move task (`aws sqs start-message-move-task` does the same on AWS, server-side)."""
    settings = _settings(args)
    sqs = aws_client("sqs")
    queue_url = _queue_url(sqs, settings, args.queue)
    dlq_url = _queue_url(sqs, settings, args.queue, "-dlq")
    waiting = int(
        sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    moved = 0
    with console.progress() as bar:
        task = bar.add_task("moving", total=waiting or None)
        while messages := sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", []):
            entries = [
                {
                    "Id": str(n),
                    "MessageBody": message["Body"],
                    "MessageAttributes": message.get("MessageAttributes", {}),
                }
                for n, message in enumerate(messages)
            ]
            sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            done = [messages[int(success["Id"])] for success in sent.get("Successful", [])]
            if done:
                sqs.delete_message_batch(
                    QueueUrl=dlq_url,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
                )
            moved += len(done)
            bar.advance(task, len(done))
            if failed := sent.get("Failed", []):
                why = f"{failed[0].get('Code')}: {failed[0].get('Message')}"
                raise OperatorError(
                    f"moved {moved}; SQS refused the rest ({why}): they stay in the DLQ, run again"
                )
    if args.json:
        console.print_json({"queue": args.queue, "moved": moved})
    else:
        console.say(f"moved {moved} message(s) from {args.queue}'s dead-letter queue back to {args.queue}")
    return 0


def _target_flag(args: argparse.Namespace) -> str:
    return "--local" if args.target.local else f"--env {args.target.env_name}"
