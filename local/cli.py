"""What the `python -m local.…` commands share: ports, the environment's settings, the fake's options, and
waiting for Ctrl-C to clean up. Foreseeable start-up problems raise StartupError: one line, no traceback."""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import threading
from dataclasses import dataclass

from infra.config import ROOT, ConfigError, EnvironmentConfig, load_environment
from local.fake_claude import FakeClaudeConfig


class StartupError(Exception):
    """The stack cannot start for a reason the user can fix; the message says how."""


@dataclass(frozen=True)
class PortOption:
    flag: str
    variable: str
    default: int

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


#: Each port has a make variable (`make local CHAT_PORT=9000`), read from the environment as the default.
PORTS = (
    PortOption("--chat-port", "CHAT_PORT", 8080),
    PortOption("--claude-port", "CLAUDE_PORT", 8787),
    PortOption("--moto-port", "MOTO_PORT", 8788),
)


def add_port_options(parser: argparse.ArgumentParser) -> None:
    for port in PORTS:
        raw = os.environ.get(port.variable) or str(port.default)
        parser.add_argument(
            port.flag,
            type=int,
            default=int(raw) if raw.isdigit() else port.default,
            help=f"0 picks a free port (default: ${port.variable} or {port.default})",
        )


def check_ports_free(args: argparse.Namespace, *, skip: tuple[str, ...] = ()) -> None:
    """Fail at once, naming the port and its variable, rather than with a traceback or a silent hang later."""
    for port in PORTS:
        number = getattr(args, port.dest)
        if number == 0 or port.variable in skip:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", number))
            except OSError as exc:
                if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise
                raise StartupError(
                    f"port {number} ({port.variable}) is in use: stop what listens there, or choose another, "
                    f"e.g. `make local {port.variable}={number + 1}` (0 picks a free port)"
                ) from None


def environment_settings(env_name: str | None) -> EnvironmentConfig | None:
    """The cdk.json settings of `env_name` (caps, models, queues, allowances, CORS, prompts), or None."""
    if env_name is None:
        return None
    try:
        context = json.loads((ROOT / "cdk.json").read_text())["context"]
        return load_environment(context.get("environments"), env_name)
    except ConfigError as exc:
        raise StartupError(str(exc)) from None
    except (OSError, ValueError, KeyError) as exc:
        raise StartupError(f"cdk.json cannot be read ({exc}): restore it from git") from None


def add_fake_options(parser: argparse.ArgumentParser) -> None:
    """Options for the fake Claude, paced so a terminal shows tokens arriving."""
    parser.add_argument("--tokens-per-second", type=float, default=30.0, help="default: %(default)s")
    parser.add_argument("--first-token-delay", type=float, default=0.3, help="seconds (default: %(default)s)")
    parser.add_argument(
        "--batch-delay",
        type=float,
        default=10.0,
        help="seconds until a Message Batch ends (default: %(default)s)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="queue a fault: KIND[:TIMES][,FIELD=VALUE…], e.g. rate_limited:2,retry_after=5; "
        "cut_stream,after_events=10; stall,seconds=30; batch_item,custom_id_pattern=bad-*",
    )


def fake_config_from(args: argparse.Namespace) -> FakeClaudeConfig:
    return FakeClaudeConfig(
        tokens_per_second=args.tokens_per_second,
        first_token_delay_s=args.first_token_delay,
        batch_processing_delay_s=args.batch_delay,
    )


def wait_until_interrupted() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
