"""`bin/kit`: the kit's operator commands.

    bin/kit enqueue FILE.jsonl (--env ENV | --local) [--queue default]   send validated work items to a queue
    bin/kit results JOB_ID (--env ENV | --local) [--wait] [--download DIR] [--json]
    bin/kit requeue JOB_ID (--env ENV | --local) --states EXPIRED,ERRORED,RETRYING
    bin/kit dlq redrive (--env ENV | --local) [--queue default]          DLQ messages back to their queue
    bin/kit spend-guard status|close|reopen (--env ENV | --local)        the environment's spend switch
    bin/kit usage (--env ENV | --local) [--day YYYY-MM-DD]               cost, tokens, calls per user
    bin/kit quota set USER --daily-usd X | quota show [USER] (--env ENV | --local)

--env acts on a deployed environment with your AWS credentials; --local (or --env local) on the stack
`make local` runs, found through .local/stack.json (nothing to export).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ops import batch_cli, console, guard_cli, target, usage_cli
from ops.errors import run_operator_command


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where")
    where.add_argument("--env", help="a deployed environment from cdk.json (dev, staging, prod …)")
    where.add_argument("--local", action="store_true", help="the local stack (`make local`)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    parser = argparse.ArgumentParser(
        prog="bin/kit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    batch_cli.add_commands(commands, common)
    guard_cli.add_commands(commands, common)
    usage_cli.add_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def command() -> int:
        args.target = target.resolve(args.env, local=args.local)
        console.note(f"{args.command}: {args.target.description}")
        return int(args.run(args))

    return run_operator_command(command, env_name=lambda: args.env or ("local" if args.local else None))


if __name__ == "__main__":
    sys.exit(main())
