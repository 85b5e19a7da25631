"""Where an operator command goes: a deployed environment (your AWS credentials) or the local stack.

`make local` writes what a command needs to reach it (moto's endpoint, region, placeholder credentials, the
functions' settings) to `.local/stack.json`; `--local` (or `--env local`) reads it, so nothing has to be
exported. Variables already in the environment win over the file (a test, or a stack started in-process).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_kit.contract import Env
from ops.errors import OperatorError

ROOT = Path(__file__).resolve().parents[1]
#: Overridable so that two stacks (a test's and yours) never share one file.
STATE_FILE_VARIABLE = "KIT_LOCAL_STATE_FILE"
LOCAL_ENV_NAME = "local"


def state_file() -> Path:
    return Path(os.environ.get(STATE_FILE_VARIABLE) or ROOT / ".local" / "stack.json")


@dataclass(frozen=True)
class Target:
    """The environment a command acts on, and how it is reached (said in one line on stderr)."""

    env_name: str
    local: bool
    description: str
    #: The local stack's per-function settings (`spend-guard` …), empty when deployed.
    functions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    urls: Mapping[str, str] = field(default_factory=dict)


def write_local_state(
    path: Path,
    *,
    env: Mapping[str, str],
    urls: Mapping[str, str],
    settings_from: str | None,
    functions: Mapping[str, Mapping[str, str]],
) -> None:
    """What `make local` leaves for `bin/kit`: placeholder credentials and names only, never the API key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "pid": os.getpid(),
        "env": dict(env),
        "urls": dict(urls),
        "settings_from": settings_from,
        "functions": {name: dict(values) for name, values in functions.items()},
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    temporary.replace(path)


def remove_local_state(path: Path) -> None:
    """Only the file this process wrote: a second stack may have replaced it."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        return


def read_local_state(path: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise OperatorError(
            f"the local stack is not running ({path} is missing): start it with `make local` in another "
            "terminal, then run this again"
        ) from None
    except ValueError:
        raise OperatorError(f"{path} is not the local stack's state file: restart `make local`") from None
    if not _alive(int(state.get("pid", 0))):
        raise OperatorError(
            f"the local stack that wrote {path} has stopped: start it again with `make local`"
        )
    return state


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolve(env_name: str | None, *, local: bool) -> Target:
    """Point this process's AWS clients at the target; raise OperatorError saying what to do if impossible."""
    if local or env_name == LOCAL_ENV_NAME:
        return _local()
    if env_name is None:
        raise OperatorError(
            "say which environment: --env NAME (deployed, as in cdk.json) or --local (the `make local` stack)"
        )
    return _deployed(env_name)


def _local() -> Target:
    if os.environ.get("AWS_ENDPOINT_URL"):  # the stack's environment is already here (tests, in-process)
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        return Target(LOCAL_ENV_NAME, True, f"the local stack at {endpoint} (from the environment)")
    path = state_file()
    state = read_local_state(path)
    env: dict[str, str] = state["env"]
    os.environ.update(env)
    _reset_clients()
    settings = f", settings of cdk.json {state['settings_from']!r}" if state.get("settings_from") else ""
    return Target(
        env.get(Env.ENV_NAME, LOCAL_ENV_NAME),
        True,
        f"the local stack at {env['AWS_ENDPOINT_URL']}{settings} (found in {path})",
        functions=state.get("functions", {}),
        urls=state.get("urls", {}),
    )


def _deployed(env_name: str) -> Target:
    import boto3

    session = boto3.session.Session()
    region = session.region_name
    if region is None:
        region = _cdk_region(env_name)
        if region is None:
            raise OperatorError(
                f"no AWS region for environment {env_name!r}: set AWS_REGION (or a profile's region), "
                "or `region` for it in cdk.json"
            )
        os.environ["AWS_DEFAULT_REGION"] = region
        _reset_clients()
    if session.get_credentials() is None:
        local = (
            "the local stack is running: add --local"
            if _local_stack_running()
            else "for the local stack use --local"
        )
        raise OperatorError(
            f"no AWS credentials for environment {env_name!r}: run `aws configure` or `aws sso login`, or "
            f"set AWS_PROFILE; {local}"
        )
    return Target(env_name, False, f"environment {env_name!r} in {region} with your AWS credentials")


def _cdk_region(env_name: str) -> str | None:
    try:
        environments = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"]
        region = environments[env_name]["region"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(region)


def _local_stack_running() -> bool:
    try:
        read_local_state(state_file())
    except OperatorError:
        return False
    return True


def _reset_clients() -> None:
    """Clients and settings built before the environment changed would point at the wrong place."""
    from claude_kit import aws
    from claude_kit.settings import get_settings

    aws.reset()
    get_settings.cache_clear()
