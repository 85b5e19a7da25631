"""`python -m local.fake_claude --port 8787 --fault rate_limited:2`: the fake on its own, until Ctrl-C."""

from __future__ import annotations

import argparse

from local.cli import add_fake_options, fake_config_from, wait_until_interrupted
from local.fake_claude import FakeClaudeServer, FaultSpecError, parse_faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.fake_claude", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port (default: %(default)s)")
    add_fake_options(parser)
    args = parser.parse_args(argv)
    try:
        faults = parse_faults(args.fault)
    except FaultSpecError as exc:
        parser.error(str(exc))
    with FakeClaudeServer(fake_config_from(args), host=args.host, port=args.port, access_log=True) as fake:
        fake.inject(*faults)
        print(f"fake Claude: {fake.base_url}  (API key {fake.config.api_key})", flush=True)
        print(f"  inject faults: curl -X POST {fake.base_url}/_fake/faults -d '[\"overloaded\"]'")
        print("  Ctrl-C to stop", flush=True)
        wait_until_interrupted()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
