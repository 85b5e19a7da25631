"""The kit on this machine: moto for AWS, the fake Claude (or the real API) and the functions, in one process.

`python -m local.stack` (what `make local` runs) starts it and waits for Ctrl-C; `make demo`, the e2e tests
and `scripts/bench.py` use `LocalStack` in-process. Each capability adds two things here, next to the CDK
construct it mirrors: a provisioning step (the secret, tables, queues, buckets the construct creates, made on
moto, returning the environment variables the stack would give the functions) and, if it runs code, a local
service (the chat app under uvicorn, an SQS → consumer loop, the poller on a timer).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Self
from unittest.mock import patch

import httpx2

from claude_kit import contract
from claude_kit.contract import Env
from infra.config import ClaudeConfig, EnvironmentConfig
from infra.function_environment import claude_environment
from local.batch_queues import BatchQueueServices, provision_batch_queues
from local.chat import ChatService, provision_chat
from local.cli import (
    StartupError,
    add_fake_options,
    add_port_options,
    check_ports_free,
    environment_settings,
    fake_config_from,
    wait_until_interrupted,
)
from local.context import PLACEHOLDER_AWS_CREDENTIALS, LocalContext, LocalService, Provisioner
from local.fake_claude import FakeClaudeConfig, FakeClaudeServer, FaultSpecError, parse_faults
from local.fake_claude.faults import BatchItemFault, CallFault
from local.guardrails import provision_guardrails, spend_guard_environment
from local.logs import install as install_local_logs
from local.moto_server import SerialMotoServer
from ops.guard_cli import LOCAL_GUARD
from ops.target import remove_local_state, state_file, write_local_state

__all__ = [
    "PLACEHOLDER_AWS_CREDENTIALS",
    "PROVISIONERS",
    "SERVICES",
    "LocalContext",
    "LocalService",
    "LocalStack",
    "Provisioner",
    "banner",
    "provision_api_key_secret",
]


def provision_api_key_secret(context: LocalContext) -> Mapping[str, str]:
    """Mirrors the secrets construct: one secret per environment whose SecretString is the API key."""
    name = contract.api_key_secret_name(context.env_name)
    context.client("secretsmanager").create_secret(
        Name=name, SecretString=context.api_key, Description="Anthropic API key (local stack)"
    )
    # With it, the Claude settings (models, caps, context) the stack gives every function that calls Claude.
    return claude_environment(context.config, api_key_secret_name=name)


#: Without an environment from cdk.json (tests, the demo, the benchmarks): the functions' own defaults, which
#: have no fallback model, so a fault shows as the error a caller would get.
BARE_CONFIG = EnvironmentConfig(claude=ClaudeConfig(fallback_model=None))

#: One provisioning step per capability, in dependency order.
PROVISIONERS: list[Provisioner] = [
    provision_api_key_secret,
    provision_chat,
    provision_guardrails,
    provision_batch_queues,
]
#: Factories of the local services, started in this order after provisioning.
SERVICES: list[Callable[[], LocalService]] = [ChatService, BatchQueueServices]


class LocalStack:
    """moto + fake Claude (unless `api_key` is a real key) + provisioned resources + local services.

    With `api_key` (the real Anthropic key) the fake is not started and the functions call the real API, the
    key reaching them only through the local secret, as on AWS. The functions' environment is `env`; with
    `apply_environment` it is also set in os.environ while the stack runs (and restored after).
    """

    def __init__(
        self,
        *,
        env_name: str = "local",
        config: EnvironmentConfig | None = None,
        api_key: str | None = None,
        moto_port: int = 0,
        claude_port: int = 0,
        fake_config: FakeClaudeConfig | None = None,
        faults: Sequence[CallFault | BatchItemFault] = (),
        provisioners: Sequence[Provisioner] | None = None,
        services: Sequence[Callable[[], LocalService]] | None = None,
        apply_environment: bool = True,
    ) -> None:
        self.env_name = env_name
        self.config = config or BARE_CONFIG
        self._real_api_key = api_key
        self._moto_port = moto_port
        self._claude_port = claude_port
        self._fake_config = fake_config or FakeClaudeConfig()
        self._faults = tuple(faults)
        self._provisioners = tuple(PROVISIONERS if provisioners is None else provisioners)
        self._services = tuple(SERVICES if services is None else services)
        self._apply_environment = apply_environment
        self._running = ExitStack()
        self.fake: FakeClaudeServer | None = None
        #: The cdk.json environment whose settings `config` holds, for the banner (None: built-ins).
        self.settings_from: str | None = None
        self.env: dict[str, str] = {}
        self.urls: dict[str, str] = {}
        #: The local services running, in start order (a test may reach into one).
        self.services: list[LocalService] = []

    @property
    def uses_real_claude(self) -> bool:
        return self._real_api_key is not None

    @property
    def secret_name(self) -> str:
        return contract.api_key_secret_name(self.env_name)

    def start(self) -> Self:
        with ExitStack() as starting:
            # One access-log line per AWS call would bury the URLs and the answers the user is looking for.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            moto = SerialMotoServer("127.0.0.1", self._moto_port)
            moto.start()
            starting.callback(moto.stop)
            host, port = moto.get_host_and_port()
            self.urls["moto (AWS)"] = endpoint_url = f"http://{host}:{port}"
            # moto keeps its state per process, not per server: start from an empty AWS every time.
            httpx2.post(f"{endpoint_url}/moto-api/reset").raise_for_status()
            self.env = {
                **PLACEHOLDER_AWS_CREDENTIALS,
                "AWS_ENDPOINT_URL": endpoint_url,
                "AWS_DEFAULT_REGION": self.config.region,
                "AWS_REGION": self.config.region,
                Env.ENV_NAME: self.env_name,
                # As infra/lambda_function.py sets them (importing it would start the CDK's Node process).
                "POWERTOOLS_SERVICE_NAME": "claude-serverless-kit",
                "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            }
            api_key = self._real_api_key or self._fake_config.api_key
            if not self.uses_real_claude:
                self.fake = starting.enter_context(
                    FakeClaudeServer(self._fake_config, port=self._claude_port)
                )
                self.fake.inject(*self._faults)
                self.urls["fake Claude"] = self.env[Env.CLAUDE_BASE_URL] = self.fake.base_url
            context = LocalContext(self.env_name, self.config, endpoint_url, api_key)
            for provision in self._provisioners:
                self.env.update(provision(context))
            if self._apply_environment:
                starting.enter_context(patch.dict(os.environ, self.env))  # restores the whole environment
                os.environ.pop("ANTHROPIC_API_KEY", None)  # the functions find the key in the secret only
            for make_service in self._services:
                service = make_service()
                url = service.start(self.env)
                starting.callback(service.stop)
                self.services.append(service)
                if url is not None:
                    self.urls[service.name] = url
            self._running = starting.pop_all()
        return self

    def stop(self) -> None:
        self._running.close()
        self.fake = None
        self.services.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def banner(stack: LocalStack, *, state_path: Path | None = None) -> str:
    """What `make local` prints: where everything listens, and how bin/kit finds it. Never the key."""
    settings = f"settings of cdk.json {stack.settings_from!r}" if stack.settings_from else "built-in settings"
    lines = [f"claude-serverless-kit local stack (environment {stack.env_name!r}, {settings}) is running:"]
    lines += [f"  {name:<14} {url}" for name, url in stack.urls.items()]
    if stack.uses_real_claude:
        lines.append(
            f"  Claude         the real API: ANTHROPIC_API_KEY is stored in secret {stack.secret_name}"
        )
    else:
        faults_url = f"{stack.urls['fake Claude']}/_fake/faults"
        lines.append(f"  faults         curl -X POST {faults_url} -d '[\"overloaded\"]'")
    if chat := stack.urls.get("chat API"):
        lines.append(f"  chat page      {chat}/  (API docs: {chat}/docs)")
        lines.append(
            f"  try it         curl -N {chat}/chat -H 'content-type: application/json'"
            " -H 'x-kit-user-id: alice' -d '{\"message\": \"Hello\"}'"
        )
    if state_path is not None:
        lines.append(
            f"  bin/kit        bin/kit enqueue FILE.jsonl --local (no exports: it reads {_shown(state_path)})"
        )
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env", help="apply this cdk.json environment's settings (`make local ENV=dev`); default: built-ins"
    )
    add_port_options(parser)
    parser.add_argument("--log-json", action="store_true", help="the functions' full JSON log lines")
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="where bin/kit finds this stack (default: .local/stack.json)",
    )
    add_fake_options(parser)
    args = parser.parse_args(argv)
    try:
        faults = parse_faults(args.fault)
    except FaultSpecError as exc:
        parser.error(str(exc))
    real_key = os.environ.get("ANTHROPIC_API_KEY") or None
    try:
        config = environment_settings(args.env)
        check_ports_free(args, skip=("CLAUDE_PORT",) if real_key else ())
    except StartupError as exc:
        print(f"make local: {exc}", file=sys.stderr)
        return 1
    install_local_logs(json_output=args.log_json)
    if not args.log_json:
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # the EMF blobs would bury the readable lines
    stack = LocalStack(
        config=config,
        api_key=real_key,
        moto_port=args.moto_port,
        claude_port=args.claude_port,
        fake_config=fake_config_from(args),
        faults=faults,
        services=[partial(ChatService, port=args.chat_port), BatchQueueServices],
    )
    state = args.state_file or state_file()
    with stack:
        stack.settings_from = args.env
        write_local_state(
            state,
            env=stack.env,
            urls=stack.urls,
            settings_from=args.env,
            functions={LOCAL_GUARD: spend_guard_environment(stack.env)},
        )
        try:
            print(banner(stack, state_path=state), flush=True)
            wait_until_interrupted()
        finally:
            remove_local_state(state)
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    raise SystemExit(main())
