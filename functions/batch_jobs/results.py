"""The results bucket: every answer and every rejection as an S3 object a caller can fetch.

Layout (documented in docs/batch.md): `results/<job_id>/<batch_id>.jsonl` (a Message Batch's results, lines as
the API wrote them), `results/<job_id>/items/<custom_id>.json` (a realtime item, the same line shape) and
`rejections/<job_id>/<message_id>.json` (why a message was refused, with its original body).
"""

from __future__ import annotations

import json
from typing import IO, Any

from claude_kit import contract

UNATTRIBUTED_JOB = "_unattributed"


class ResultStore:
    """`s3` is a boto3 S3 client; the bucket's default encryption applies to every object."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def job_uri(self, job_id: str) -> str:
        return f"s3://{self.bucket}/{contract.RESULTS_PREFIX}{job_id}/"

    def put_item_result(self, job_id: str, custom_id: str, line: dict[str, Any]) -> str:
        key = f"{contract.RESULTS_PREFIX}{job_id}/items/{custom_id}.json"
        self._put_json(key, line)
        return key

    def put_rejection(self, job_id: str | None, message_id: str, record: dict[str, Any]) -> str:
        key = f"{contract.REJECTIONS_PREFIX}{job_id or UNATTRIBUTED_JOB}/{message_id}.json"
        self._put_json(key, record)
        return key

    @staticmethod
    def batch_results_key(job_id: str, batch_id: str) -> str:
        return f"{contract.RESULTS_PREFIX}{job_id}/{batch_id}.jsonl"

    def upload_batch_results(self, key: str, lines: IO[bytes]) -> None:
        """Multipart upload from a file object (which it closes): a large file never has to fit in memory."""
        self._s3.upload_fileobj(lines, self.bucket, key, ExtraArgs={"ContentType": "application/x-ndjson"})

    def _put_json(self, key: str, body: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json"
        )
