"""`bin/kit smoke --env ENV`: after a deployment, prove each path works and name what does not.

    bin/kit smoke --env dev                 chat (through API Gateway), batch (one item), monitoring
    bin/kit smoke --env dev --json          the same, as JSON for a pipeline
    bin/kit smoke --env dev --skip batch    leave a check out (chat, batch, monitoring)
    bin/kit smoke --env local --chat-url http://127.0.0.1:PORT/chat --header x-kit-user-id=smoke

The chat URL and API key come from the stack's outputs (`claude-kit-<env>`), the queue and table from the
environment's names, with your AWS credentials; `--chat-url` and `--header` replace the lookup (the local
stack, or a custom domain). Exit status: 0 when nothing failed (a batch item still waiting for its Message
Batch is `pending`), 1 when a check failed, 2 when the checks could not start.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx2

from claude_kit import contract
from ops.smoke.checks import SMOKE_MESSAGE, CheckResult, check_batch, check_chat, check_monitoring

CHECKS = ("chat", "batch", "monitoring")


class SmokeSetupError(Exception):
    """The checks cannot start (no credentials, no such stack …); the message says what to do."""


def _say(line: str = "", *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(line + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bin/kit smoke", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="dev", help="environment name from cdk.json (default: dev)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--skip", default="", help=f"comma-separated checks to leave out: {', '.join(CHECKS)}"
    )
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for the batch item (600)")
    parser.add_argument("--queue", default="default", help="batch queue to enqueue on (default: default)")
    parser.add_argument("--chat-url", help="POST /chat URL; default: the stack's ChatUrl output")
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME=VALUE", help="extra request header (repeat)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    if unknown := skip - set(CHECKS):
        _say(f"error: unknown check(s) {sorted(unknown)}; choose from {', '.join(CHECKS)}", err=True)
        return 2
    try:
        headers = _headers(args.header)
        results = list(_run(args, skip, headers))
    except SmokeSetupError as exc:
        _say(f"error: {exc}", err=True)
        return 2
    if args.json:
        _say(json.dumps({"env": args.env, "checks": [result.to_dict() for result in results]}, indent=2))
    else:
        _say(f"{'check':<12}{'status':<9}{'seconds':>8}  detail")
        for result in results:
            _say(f"{result.name:<12}{result.status:<9}{result.seconds:>8.2f}  {result.detail}")
    return 1 if any(result.status == "failed" for result in results) else 0


def _run(args: argparse.Namespace, skip: set[str], headers: dict[str, str]) -> Any:
    if "chat" not in skip:
        chat_url = args.chat_url
        if chat_url is None:
            chat_url, api_key = _stack_chat_endpoint(args.env)
            headers = {"x-api-key": api_key, **headers}
        with httpx2.Client(timeout=httpx2.Timeout(60.0, connect=10.0)) as http:
            yield check_chat(http, chat_url, headers)
    if "batch" not in skip:
        yield _guarded("batch", lambda: _batch(args))
    if "monitoring" not in skip:
        yield _guarded("monitoring", lambda: check_monitoring(_aws("cloudwatch"), args.env))


def _batch(args: argparse.Namespace) -> CheckResult:
    from batch_jobs.clients import job_store_for
    from batch_jobs.enqueue import Outgoing, QueueSender, new_job_id, resolve_queue_url
    from batch_jobs.jobs import job_summary
    from batch_jobs.settings import BatchSettings

    settings = BatchSettings(env_name=args.env, queue_name=args.queue)
    sqs = _aws("sqs")
    sender = QueueSender(
        sqs, resolve_queue_url(sqs, settings, args.queue), max_message_bytes=settings.max_message_bytes
    )
    job_id = new_job_id()

    def enqueue(custom_id: str) -> str:
        item = {
            "custom_id": custom_id,
            "job_id": job_id,
            "params": {"max_tokens": 16, "messages": [{"role": "user", "content": SMOKE_MESSAGE}]},
            "metadata": {"purpose": "bin/kit smoke"},
        }
        if failed := sender.send([Outgoing(ref=custom_id, body=json.dumps(item))], job_items=1):
            raise RuntimeError(failed[0].reason)
        return job_id

    def status(job: str) -> Mapping[str, Any] | None:
        summary = job_summary(job_store_for(settings), job)
        return None if summary is None else summary.to_dict()

    return check_batch(enqueue, status, wait_seconds=args.wait, progress=lambda line: _say(line, err=True))


def _guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    """An AWS error inside a check (a missing queue or table, access denied) is that check's failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    started = time.monotonic()
    try:
        return check()
    except (BotoCoreError, ClientError) as exc:
        return CheckResult(
            name, "failed", f"{type(exc).__name__}: {exc}", round(time.monotonic() - started, 2)
        )


def _stack_chat_endpoint(env_name: str) -> tuple[str, str]:
    """The ChatUrl output of `claude-kit-<env>` and the value of its API key (never printed)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    stack = contract.stack_name(env_name)
    try:
        (described,) = _aws("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
        chat_url = next((value for key, value in outputs.items() if "ChatUrl" in key), None)
        key_id = next((value for key, value in outputs.items() if "ApiKeyId" in key), None)
        if chat_url is None or key_id is None:
            raise SmokeSetupError(
                f"stack {stack} has no ChatUrl/ApiKeyId output: is it deployed from this kit?"
            )
        api_key = _aws("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]
    except NoCredentialsError as exc:
        raise SmokeSetupError("no AWS credentials: configure them for the environment's account") from exc
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ValidationError":
            raise SmokeSetupError(
                f"no stack {stack} here: deploy it first (make deploy ENV={env_name})"
            ) from exc
        raise SmokeSetupError(f"could not read stack {stack}: {exc}") from exc
    except BotoCoreError as exc:
        raise SmokeSetupError(f"could not reach AWS: {exc}") from exc
    return str(chat_url), str(api_key)


def _headers(pairs: Sequence[str]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name.strip():
            raise SmokeSetupError(f"--header {pair!r}: expected NAME=VALUE")
        headers[name.strip()] = value.strip()
    return headers


def _aws(service: str) -> Any:
    from claude_kit.aws import aws_client

    return aws_client(service)


if __name__ == "__main__":
    sys.exit(main())
