"""`bin/kit eval` / `make eval`: run golden sets, report, and gate against the environment's baseline.

    bin/kit eval --offline                      the example sets against a fake Claude on this machine
    bin/kit eval --env dev                      the runtime core with dev's settings and API key secret
    bin/kit eval --env dev --target chat        the deployed chat endpoint (URL and key from the stack)
    bin/kit eval --env dev --mode batch         through Message Batches (half price; results within 24 h)
    bin/kit eval --env dev --save-baseline      store this run's figures as evals/baselines/dev.json

Exit status: 0 all passed and nothing regressed, 1 a check failed or the gate found a regression, 2 the run
could not start (a malformed golden file, a missing setting).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from claude_kit import contract
from claude_kit.clients import ClaudeClients
from claude_kit.errors import ClaudeAuthenticationError, ClaudeError
from claude_kit.service import ClaudeService
from claude_kit.settings import RuntimeSettings
from claude_kit.telemetry import CallRecord
from ops.evals.baseline import (
    BASELINE_DIR,
    BaselineError,
    baseline_path,
    compare,
    load_baseline,
    save_baseline,
)
from ops.evals.batch import BatchTimeoutError
from ops.evals.golden import GoldenSetError, JudgeCheck, LoadedSet, load_sets
from ops.evals.report import Report
from ops.evals.results import ScenarioResult
from ops.evals.targets import ChatTarget, CoreTarget, Target

REPO_ROOT = Path(__file__).resolve().parents[2]
SETS_DIR = REPO_ROOT / "evals" / "sets"
FAKE_REPLIES = REPO_ROOT / "evals" / "fake" / "replies.yaml"
API_KEY_VARIABLE = "KIT_EVAL_API_KEY"


class UsageError(Exception):
    """A foreseeable mistake in how the command was called: one line says what to do."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bin/kit eval",
        description=__doc__.split("\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sets", nargs="*", type=Path, help="golden set files or folders (default: evals/sets)"
    )
    parser.add_argument("--env", default="local", help="environment name from cdk.json, or local (default)")
    parser.add_argument("--offline", action="store_true", help="answer with a fake Claude started here")
    parser.add_argument("--target", choices=("core", "chat"), default="core", help="where answers come from")
    parser.add_argument(
        "--chat-url", help="--target chat: the endpoint (default: the stack's ChatUrl output)"
    )
    parser.add_argument("--user-id", help="x-kit-user-id for a local chat API (ignored when deployed)")
    parser.add_argument("--mode", choices=("realtime", "batch"), default="realtime")
    parser.add_argument("--repeats", type=int, help="override every scenario's repeats")
    parser.add_argument("--concurrency", type=int, default=4, help="calls in flight at once (default 4)")
    parser.add_argument("--judge-model", help="grade with this model instead of each set's judge.model")
    parser.add_argument("--baseline", type=Path, help="default: evals/baselines/<env>.json")
    parser.add_argument("--save-baseline", action="store_true", help="store this run as the baseline")
    parser.add_argument("--report-dir", type=Path, help="also write eval-report.json and eval-report.md here")
    parser.add_argument(
        "--fake-replies", type=Path, help="scripted replies for --offline (default evals/fake/replies.yaml)"
    )
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="batch mode: wait between polls")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


@dataclass
class Ledger:
    """Every Claude call the runtime core made for this run, as its telemetry record."""

    records: list[CallRecord] = field(default_factory=list)

    def __call__(self, record: CallRecord) -> None:
        self.records.append(record)

    def note(self) -> str | None:
        if not self.records:
            return None
        cost = sum(record.cost_usd or 0.0 for record in self.records)
        routes = sorted({record.route for record in self.records})
        return f"{len(self.records)} runtime-core calls recorded ({', '.join(routes)}), ${cost:.4f}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with _logs_on_stderr():
        try:
            return _main(args)
        except (UsageError, GoldenSetError, BaselineError, BatchTimeoutError) as exc:
            sys.stderr.write(f"error: {exc}\n")
        except ClaudeAuthenticationError as exc:
            sys.stderr.write(f"error: {exc}: check your AWS credentials and region, and the secret's value\n")
        except ClaudeError as exc:
            sys.stderr.write(f"error: Claude refused the run: {exc.error_type}: {exc}\n")
        except KeyboardInterrupt:
            sys.stderr.write("interrupted: no report written\n")
            return 130
    return 2


@contextmanager
def _logs_on_stderr() -> Iterator[None]:
    """The runtime core logs (retries, unknown prices) to stdout for Lambda; here stdout is the report."""
    from claude_kit.observability import logger

    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        yield
        return
    previous = handler.setStream(sys.stderr)
    try:
        yield
    finally:
        handler.setStream(previous)


def _main(args: argparse.Namespace) -> int:
    progress = None if args.quiet else _progress
    sets = _load(args)
    ledger = Ledger()
    with ExitStack() as stack:
        settings = stack.enter_context(_runtime(args))
        clients = (
            ClaudeClients(api_key=lambda _force: _offline_key(), base_url=settings.claude_base_url)
            if args.offline
            else ClaudeClients.from_settings(settings)
        )
        service = ClaudeService(clients=clients, settings=settings, emit=ledger)
        if args.target == "core" or _has_judge(sets):
            # Build the client (import the SDK: seconds; read the key) before the first call's clock starts.
            clients.sync_client()
        results = _run(args, sets, settings, clients, service, stack, progress)
    report = Report(environment=args.env, target=args.target, mode=args.mode, results=results)
    if note := ledger.note():
        report.notes.append(note)
    _gate(args, report, sets)
    _write(args, report)
    return 0 if report.ok else 1


def _has_judge(sets: Sequence[LoadedSet]) -> bool:
    return any(
        isinstance(check, JudgeCheck)
        for s in sets
        for scenario in s.golden.scenarios
        for check in scenario.expect
    )


def _load(args: argparse.Namespace) -> list[LoadedSet]:
    if args.offline and args.env != "local":
        raise UsageError(f"--offline runs on this machine and is gated by local.json: drop --env {args.env}")
    if args.env == "local":
        args.offline = True  # the runtime core (answers, or the judge for --target chat) gets a fake here
    if args.target == "chat" and not args.chat_url and args.env == "local":
        raise UsageError(
            "--target chat on this machine needs --chat-url (make local prints the chat API's URL)"
        )
    if args.repeats is not None and args.repeats < 1:
        raise UsageError("--repeats must be at least 1")
    sets = load_sets(args.sets or [SETS_DIR])
    if args.judge_model:
        sets = [
            LoadedSet(
                s.path,
                s.golden.model_copy(
                    update={"judge": s.golden.judge.model_copy(update={"model": args.judge_model})}
                ),
            )
            for s in sets
        ]
    return sets


@contextmanager
def _runtime(args: argparse.Namespace) -> Iterator[RuntimeSettings]:
    """The runtime core's settings: a fake Claude started here, or the environment's cdk.json and secret."""
    if args.offline:
        from local.fake_claude import FakeClaudeConfig, FakeClaudeServer

        rules = _fake_replies(args.fake_replies)
        with FakeClaudeServer(FakeClaudeConfig(scripted_replies=rules)) as fake:
            yield RuntimeSettings(
                env_name="local", claude_base_url=fake.base_url, fallback_model="claude-haiku-5-5"
            )
        return
    yield _environment_settings(args.env)


def _offline_key() -> str:
    from local.fake_claude import PLACEHOLDER_API_KEY

    return PLACEHOLDER_API_KEY


def _fake_replies(path: Path | None) -> tuple[Any, ...]:
    from local.fake_claude.scripted import ScriptError, parse_rules

    chosen = path or FAKE_REPLIES
    if not chosen.exists():
        if path is not None:
            raise UsageError(f"{path}: no such file")
        return ()
    try:
        return parse_rules(yaml.safe_load(chosen.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ScriptError) as exc:
        raise UsageError(f"{chosen}: {exc}") from exc


def _environment_settings(env: str) -> RuntimeSettings:
    from infra.config import ConfigError, load_environment

    try:
        context = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
        config = load_environment(context.get("environments"), env)
    except ConfigError as exc:
        raise UsageError(str(exc).splitlines()[0]) from exc
    os.environ.setdefault("AWS_REGION", config.region)
    os.environ.setdefault("AWS_DEFAULT_REGION", config.region)
    claude = config.claude
    return RuntimeSettings(
        env_name=env,
        api_key_secret_name=config.secret.existing_secret_name or contract.api_key_secret_name(env),
        model=claude.model,
        fallback_model=claude.fallback_model,
        allowed_models=claude.allowed_models,
        max_tokens_cap=claude.max_tokens_cap,
        context_max_turns=claude.context_max_turns,
        context_max_tokens=claude.context_max_tokens,
        price_overrides=claude.price_overrides,
    )


def _run(
    args: argparse.Namespace,
    sets: list[LoadedSet],
    settings: RuntimeSettings,
    clients: ClaudeClients,
    service: ClaudeService,
    stack: ExitStack,
    progress: Any,
) -> list[ScenarioResult]:
    if args.mode == "batch":
        if args.target == "chat":
            raise UsageError("--mode batch sends the calls as Message Batches: it needs --target core")
        from ops.evals.batch import batch_runner

        runner = batch_runner(settings, clients, poll_seconds=args.poll_seconds, progress=progress)
        return runner.run(sets, args.repeats)
    from ops.evals.runner import run_realtime

    target: Target
    if args.target == "chat":
        url, api_key = _chat_endpoint(args)
        chat = ChatTarget(url, api_key=api_key, user_id=args.user_id)
        stack.callback(chat.close)
        target = chat
    else:
        target = CoreTarget(service, settings.model)
    return run_realtime(
        sets, target, service, concurrency=args.concurrency, repeats=args.repeats, progress=progress
    )


def _chat_endpoint(args: argparse.Namespace) -> tuple[str, str | None]:
    """--chat-url with KIT_EVAL_API_KEY, or the stack's outputs (ChatUrl, and the value of ApiKeyId)."""
    api_key = os.environ.get(API_KEY_VARIABLE)
    if args.chat_url:
        return args.chat_url, api_key
    from claude_kit.aws import aws_client
    from ops.evals.deployed import DeployedLookupError, chat_endpoint

    try:
        endpoint = chat_endpoint(args.env, aws_client("cloudformation"), aws_client("apigateway"))
    except DeployedLookupError as exc:
        raise UsageError(str(exc)) from exc
    return endpoint.url, api_key or endpoint.api_key


def _gate(args: argparse.Namespace, report: Report, sets: list[LoadedSet]) -> None:
    path = args.baseline or baseline_path(args.env, REPO_ROOT / BASELINE_DIR)
    if args.save_baseline:
        save_baseline(path, report.results, env=args.env, target=args.target, mode=args.mode)
        report.notes.append(f"baseline saved to {_shown(path)}")
        return
    saved = load_baseline(path)
    if saved is None:
        report.notes.append(f"no baseline at {_shown(path)}: not gated (save one with --save-baseline)")
        return
    report.diff = compare(report.results, saved, {s.golden.id: s.golden.tolerances for s in sets})


def _write(args: argparse.Namespace, report: Report) -> None:
    if args.report_dir is not None:
        args.report_dir.mkdir(parents=True, exist_ok=True)
        (args.report_dir / "eval-report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
        (args.report_dir / "eval-report.md").write_text(report.markdown())
        report.notes.append(f"reports written to {args.report_dir}/eval-report.{{json,md}}")
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(report.table() + "\n")


def _shown(path: Path) -> str:
    """A path as the person typed it, or relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _progress(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
