"""Send a JSONL file of work items to a batch queue, wait until the job completes, print each item's answer.

    python examples/python/batch.py items.jsonl --env local --url http://127.0.0.1:8080 --user alice
    CHAT_API_KEY=... python examples/python/batch.py items.jsonl --env dev --url https://…/dev --user KEY_ID

One line per work item (docs/batch.md): `custom_id` and Messages API `params`. Every item is sent as the same
job, owned by `--user` (with an API key, the key's id: stack output ApiKeyId), and its progress is read from
the chat API's `GET /jobs/{job_id}`; the answers are read from the job's results in S3. AWS access is boto3's
usual: your credentials, or the local stack's `AWS_ENDPOINT_URL` and placeholder keys.

`bin/kit enqueue` does the sending with validation, progress and retries; this shows the two contracts a
program needs (the SQS message, the jobs API) in one page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import httpx2

#: Tells the poller how many items the job has, so it completes only when all of them are final.
JOB_ITEMS_ATTRIBUTE = "job_items"


def identity(user: str) -> dict[str, str]:
    """Deployed: the API key in CHAT_API_KEY (API Gateway checks it). Locally: the user name."""
    api_key = os.environ.get("CHAT_API_KEY")
    return {"x-api-key": api_key} if api_key else {"x-kit-user-id": user}


def send(queue_name: str, job_id: str, user: str, lines: list[str]) -> int:
    """Each line as one SQS message of the job (10 per call: SQS's batch limit)."""
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    items = [{**json.loads(line), "job_id": job_id, "user_id": user} for line in lines]
    attributes = {JOB_ITEMS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(len(items))}}
    for start in range(0, len(items), 10):
        entries = [
            {"Id": str(n), "MessageBody": json.dumps(item), "MessageAttributes": attributes}
            for n, item in enumerate(items[start : start + 10])
        ]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            raise SystemExit(f"SQS refused {len(failed)} messages: {failed[0].get('Message')}")
    return len(items)


def wait(url: str, job_id: str, user: str, timeout_s: float, poll_s: float) -> dict[str, Any]:
    """Poll the jobs API until every item is final."""
    deadline = time.monotonic() + timeout_s
    with httpx2.Client(base_url=url.rstrip("/"), headers=identity(user), timeout=30) as client:
        while time.monotonic() < deadline:
            response = client.get(f"/jobs/{job_id}")
            if response.status_code == 200:
                job: dict[str, Any] = response.json()
                print(f"{job['status']}: {job['counts']}", file=sys.stderr)
                if job["status"] == "COMPLETED":
                    return job
            elif response.status_code != 404:  # 404 until the first item is recorded
                raise SystemExit(f"jobs API: HTTP {response.status_code} {response.text}")
            time.sleep(poll_s)
    raise SystemExit(f"job {job_id} did not complete within {timeout_s:.0f} s")


def results(results_uri: str) -> dict[str, dict[str, Any]]:
    """custom_id → result (the Message Batches API's result shape) from every results file of the job."""
    location = urlparse(results_uri)
    s3 = boto3.client("s3")
    found: dict[str, dict[str, Any]] = {}
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=location.netloc, Prefix=location.path.lstrip("/")
    )
    for page in pages:
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=location.netloc, Key=entry["Key"])["Body"].read().decode()
            for line in body.splitlines():
                if line.strip():
                    record = json.loads(line)
                    found[record["custom_id"]] = record["result"]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="JSONL work items")
    parser.add_argument("--env", default="local", help="the environment (queue claude-kit-ENV-QUEUE)")
    parser.add_argument("--queue", default="default")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the chat API (default: %(default)s)")
    parser.add_argument(
        "--user", required=True, help="the job's owner: a local user name, or the API key's id"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait (default: %(default)s)")
    parser.add_argument("--poll", type=float, default=5, help="seconds between polls (default: %(default)s)")
    args = parser.parse_args(argv)

    lines = [line for line in args.file.read_text().splitlines() if line.strip()]
    job_id = f"example-{uuid.uuid4().hex[:12]}"
    count = send(f"claude-kit-{args.env}-{args.queue}", job_id, args.user, lines)
    print(f"job {job_id}: {count} items sent", file=sys.stderr)
    job = wait(args.url, job_id, args.user, args.timeout, args.poll)
    answers = results(job["results_uri"])
    for custom_id, result in sorted(answers.items()):
        if result["type"] == "succeeded":
            text = "".join(block.get("text", "") for block in result["message"]["content"])
            print(json.dumps({"custom_id": custom_id, "text": text}))
        else:
            print(json.dumps({"custom_id": custom_id, "failed": result}))
    return 0 if job["counts"] == {"SUCCEEDED": count} else 1


if __name__ == "__main__":
    raise SystemExit(main())
