"""What the `python -m local.…` commands share: the fake's options, and waiting for Ctrl-C to clean up."""

from __future__ import annotations

import argparse
import signal
import threading

from local.fake_claude import FakeClaudeConfig


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
