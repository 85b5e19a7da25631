"""The batch consumer in batch mode: AWS calls and CPU per work item, per invocation of a full SQS batch.

moto and the fake Claude run in their own processes; the consumer runs in a worker process of its own (its
production logs go to a file), invoked as Lambda's event source mapping would, with `items` valid work items
in SQS batches of BATCH_SIZE. CPU is the worker thread's: all of it, and the kit's share (all of it
minus the time inside botocore's API calls and the Anthropic SDK's requests, which the kit only calls).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.harness import REPO_ROOT, BenchStack
from scripts.measure import BenchOptions, Measurement, summary

#: Records per invocation: the `batch_size` of cdk.json's dev queue (the local default queue takes 100).
BATCH_SIZE = 10


def run(options: BenchOptions) -> list[Measurement]:
    with BenchStack(words=1) as stack, tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "result.json"
        with (Path(scratch) / "logs").open("wb") as logs:
            subprocess.run(  # noqa: S603 - this interpreter, the kit's own module
                [
                    sys.executable,
                    "-m",
                    "scripts.bench_batch",
                    str(options.items),
                    str(output),
                    stack.moto_url,
                ],
                cwd=REPO_ROOT,
                env=stack.process_environment(),
                stdout=logs,
                stderr=subprocess.STDOUT,
                check=True,
            )
        result = json.loads(output.read_text())
    operations = result["operations"]
    note = f"{options.items} items in invocations of {result['batch_size']}; calls per item: {operations}"
    return [
        summary(
            "batch", "consumer AWS calls per item (batch mode)", result["calls"], "calls", note, limit=1.3
        ),
        summary("batch", "consumer CPU per item (kit code)", result["kit_cpu_ms"], "ms", note, limit=1.0),
        summary("batch", "consumer CPU per item (whole handler)", result["cpu_ms"], "ms", note),
    ]


class _CpuInside:
    """Thread CPU spent inside one method, accumulated (wrapped in place for this process only)."""

    def __init__(self, owner: Any, name: str) -> None:
        self.seconds = 0.0
        self._depth = 0
        original: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.thread_time() - start

        setattr(owner, name, timed)


def _record(body: dict[str, Any], job_items: int) -> dict[str, Any]:
    text = json.dumps(body)
    return {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": uuid.uuid4().hex,
        "Body": text,
        "MD5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's checksum, not security
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
        "MessageAttributes": {"job_items": {"DataType": "Number", "StringValue": str(job_items)}},
    }


def worker(items: int, output: Path, moto_url: str) -> None:
    import os
    from collections import Counter

    import botocore.client
    import httpx2
    from anthropic._base_client import SyncAPIClient

    import local  # noqa: F401  (functions/ on sys.path)
    from batch_jobs import clients
    from local.batch_queues import QUEUES_VARIABLE, LocalLambdaContext, LocalQueue, consume, sqs_event

    def aws_calls() -> Counter[str]:
        return Counter(httpx2.get(f"{moto_url}/_bench/calls").json())

    (spec,) = [s for s in json.loads(os.environ[QUEUES_VARIABLE]) if s["name"] == "default"]
    queue = LocalQueue(**spec)
    region = os.environ["AWS_REGION"]
    bodies = [
        {
            "custom_id": f"bench-{n}",
            "job_id": "bench",
            "params": {"max_tokens": 64, "messages": [{"role": "user", "content": f"Item {n}"}]},
        }
        for n in range(items)
    ]
    events = [
        sqs_event([_record(body, items) for body in bodies[i : i + BATCH_SIZE]], queue, region)
        for i in range(0, items, BATCH_SIZE)
    ]
    # Warm the container: the key read, clients, first-call imports, as a previous invocation would have.
    warm = [{**bodies[0], "job_id": "warm"}]
    consume(queue, sqs_event([_record(warm[0], 1)], queue, region), LocalLambdaContext.new("w"))
    aws = _CpuInside(botocore.client.BaseClient, "_make_api_call")
    claude = _CpuInside(SyncAPIClient, "request")
    calls, cpu_ms, kit_cpu_ms = [], [], []
    operations: Counter[str] = Counter()
    for event in events:
        count = len(event["Records"])
        before, aws_before, claude_before = aws_calls(), aws.seconds, claude.seconds
        cpu = time.thread_time()
        response = consume(queue, event, LocalLambdaContext.new("claude-kit-bench-consumer"))
        cpu = time.thread_time() - cpu
        if response["batchItemFailures"]:
            raise RuntimeError(f"the consumer failed items: {response['batchItemFailures']}")
        made = aws_calls() - before
        operations += made
        calls.append(made.total() / count)
        cpu_ms.append(cpu / count * 1000)
        inside = (aws.seconds - aws_before) + (claude.seconds - claude_before)
        kit_cpu_ms.append((cpu - inside) / count * 1000)
    clients.reset()
    output.write_text(
        json.dumps(
            {
                "batch_size": BATCH_SIZE,
                "calls": calls,
                "cpu_ms": cpu_ms,
                "kit_cpu_ms": kit_cpu_ms,
                "operations": {k.split(".")[-1]: round(v / items, 2) for k, v in operations.most_common()},
            }
        )
    )


if __name__ == "__main__":
    worker(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
