"""Batch queue throughput on the local stack (moto server + fake Claude): items per second through the CLI's
enqueue, the consumer (batch mode, via the local SQS event source) and the poller, and end to end.

moto's SQS and DynamoDB dominate these numbers; AWS is faster per call but farther away. Use them to compare
changes to the kit's own code, not to size a deployment.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from contextlib import redirect_stdout
from functools import partial
from pathlib import Path

import local  # noqa: F401  (puts functions/, the Lambda bundle root, on sys.path for the imports in run)
from scripts.measure import Measurement

ITEMS = 500


def run(items: int = ITEMS) -> list[Measurement]:
    from batch_jobs import clients
    from batch_jobs.jobs import job_summary
    from claude_kit.aws import aws_client
    from local.batch_queues import QUEUES_VARIABLE, LocalQueue, SqsEventSource, consume, run_poller
    from local.stack import LocalStack
    from ops import kit as cli

    with LocalStack(services=[]) as stack, tempfile.TemporaryDirectory() as scratch:
        clients.reset()
        work = Path(scratch) / "work.jsonl"
        work.write_text(
            "".join(
                json.dumps(
                    {
                        "custom_id": f"bench-{n}",
                        "params": {"max_tokens": 64, "messages": [{"role": "user", "content": f"Item {n}"}]},
                    }
                )
                + "\n"
                for n in range(items)
            )
        )
        (spec,) = [s for s in json.loads(stack.env[QUEUES_VARIABLE]) if s["name"] == "default"]
        queue = LocalQueue(**spec)
        source = SqsEventSource(aws_client("sqs"), queue, partial(consume, queue))

        start = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            cli.main(["enqueue", str(work), "--env", stack.env_name, "--job-id", "bench"])
        enqueued = time.perf_counter()
        source.drain()
        consumed = time.perf_counter()
        while (
            summary := job_summary(clients.get_job_store(), "bench")
        ) is None or summary.status != "COMPLETED":
            run_poller()
        collected = time.perf_counter()
        clients.reset()

    def rate(seconds: float) -> float:
        return items / seconds

    note = f"{items} items, batch size {queue.batch_size}"
    return [
        Measurement("batch", "enqueue (CLI → SQS)", rate(enqueued - start), "items/s", note),
        Measurement("batch", "consume (SQS → Message Batches)", rate(consumed - enqueued), "items/s", note),
        Measurement(
            "batch", "collect (poller → S3, items, telemetry)", rate(collected - consumed), "items/s", note
        ),
        Measurement("batch", "end to end", rate(collected - start), "items/s", note),
    ]
