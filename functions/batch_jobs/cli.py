"""Command line for batch queues: `python -m batch_jobs.cli {enqueue,requeue,results} … --env dev`.

    enqueue FILE.jsonl [--queue default] [--job-id ID] [--dry-run]  validate every line, send the valid ones
    requeue JOB_ID [--states EXPIRED,ERRORED]                       send a job's failed items again
    results JOB_ID [--json]                                         counts per state, where the results are

AWS credentials and region come from the usual boto3 sources; the queue, table and names derive from `--env`
(override with KIT_QUEUE_URL / KIT_JOBS_TABLE).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from batch_jobs import clients
from batch_jobs.enqueue import (
    EnqueueReport,
    QueueSender,
    new_job_id,
    requeue,
    resolve_queue_url,
    validate_lines,
)
from batch_jobs.jobs import job_summary
from batch_jobs.settings import BatchSettings, item_limits
from claude_kit.aws import aws_client
from claude_kit.settings import get_settings


def _say(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m batch_jobs.cli", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    enqueue = commands.add_parser(
        "enqueue", help="validate a JSONL file of work items and send it to a queue"
    )
    enqueue.add_argument("file", type=Path)
    enqueue.add_argument("--queue", default="default", help="queue name from cdk.json batch.queues[]")
    enqueue.add_argument("--job-id", help="default: a new job id; reuse one to resume an interrupted run")
    enqueue.add_argument("--dry-run", action="store_true", help="validate only, send nothing")

    again = commands.add_parser("requeue", help="send a job's expired/errored items again")
    again.add_argument("job_id")
    again.add_argument(
        "--states", default="EXPIRED,ERRORED", help="comma-separated: EXPIRED, ERRORED, CANCELED"
    )

    results = commands.add_parser("results", help="a job's counts per state and where its results are")
    results.add_argument("job_id")
    results.add_argument("--json", action="store_true", help="print the summary as JSON")

    for command in (enqueue, again, results):
        command.add_argument("--env", default="dev", help="environment name from cdk.json (default: dev)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = BatchSettings(env_name=args.env)
    if args.command == "enqueue":
        return _enqueue(settings, args.file, queue=args.queue, job_id=args.job_id, dry_run=args.dry_run)
    if args.command == "requeue":
        return _requeue(settings, args.job_id, [state.strip().upper() for state in args.states.split(",")])
    return _results(settings, args.job_id, as_json=args.json)


def _sender(settings: BatchSettings, queue: str) -> QueueSender:
    sqs = aws_client("sqs")
    return QueueSender(
        sqs, resolve_queue_url(sqs, settings, queue), max_message_bytes=settings.max_message_bytes
    )


def _enqueue(settings: BatchSettings, path: Path, *, queue: str, job_id: str | None, dry_run: bool) -> int:
    job_id = job_id or new_job_id()
    with path.open(encoding="utf-8") as lines:
        valid, invalid, count = validate_lines(
            lines, job_id=job_id, limits=item_limits(get_settings(), settings)
        )
    sender = None if dry_run else _sender(settings, queue)
    report = EnqueueReport(
        job_id=job_id, queue_url=sender.queue_url if sender else "(dry run)", lines=count, invalid=invalid
    )
    if sender is not None and valid:
        report.failed = sender.send(valid, job_items=len(valid))
        report.sent = len(valid) - len(report.failed)
    _say(f"job_id: {report.job_id}")
    _say(f"queue: {report.queue_url}")
    _say(f"items: {report.lines}  valid: {len(valid)}  invalid: {len(invalid)}  sent: {report.sent}")
    for error in report.invalid:
        _say(f"line {error.line}: {error.reason}")
        for detail in error.errors:
            _say(f"    {detail}")
    for failure in report.failed:
        _say(f"line {failure.ref}: not sent: {failure.reason}")
    return 0 if report.ok else 1


def _requeue(settings: BatchSettings, job_id: str, states: list[str]) -> int:
    try:
        report = requeue(
            clients.job_store_for(settings), lambda queue: _sender(settings, queue), job_id, states
        )
    except ValueError as exc:
        _say(f"error: {exc}")
        return 2
    _say(f"job_id: {job_id}  requeued: {report.requeued}  not sent: {len(report.failed)}")
    for failure in report.failed:
        _say(f"{failure.ref}: not sent: {failure.reason}")
    return 0 if not report.failed else 1


def _results(settings: BatchSettings, job_id: str, *, as_json: bool) -> int:
    summary = job_summary(clients.job_store_for(settings), job_id)
    if summary is None:
        _say(f"no job {job_id!r} in {settings.table_name}")
        return 1
    if as_json:
        _say(json.dumps(summary.to_dict(), indent=2))
        return 0
    _say(f"job {summary.job_id}: {summary.status} (queue {summary.queue}, {summary.mode} mode)")
    expected = "unknown" if summary.expected_items is None else str(summary.expected_items)
    _say(f"items: {summary.total} known, {expected} expected")
    for state, count in summary.counts.items():
        _say(f"  {state:<12}{count:>8}")
    _say(f"results: {summary.results_uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
