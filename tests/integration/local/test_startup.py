"""`make local` and bin/kit refuse foreseeable mistakes at once, in one line that says what to do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from local.stack import main as start_local_stack
from ops import kit
from ops.target import STATE_FILE_VARIABLE


def test_a_busy_port_stops_make_local_at_once_naming_the_variable(tmp_path: Path, capsys) -> None:
    # Given something already listening where the chat API would
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # When the stack is started on that port
        code = start_local_stack(
            [
                *("--chat-port", str(port), "--claude-port", "0", "--moto-port", "0"),
                "--state-file",
                str(tmp_path),
            ]
        )
    # Then it stops with one line naming the port and its make variable, and leaves no state file
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"make local: port {port} (CHAT_PORT) is in use: stop what listens there, or choose another, "
        f"e.g. `make local CHAT_PORT={port + 1}` (0 picks a free port)"
    ]
    assert not (tmp_path / "stack.json").exists()


def test_an_unknown_environment_stops_make_local_naming_the_known_ones(capsys) -> None:
    code = start_local_stack(["--env", "qa", "--chat-port", "0", "--claude-port", "0", "--moto-port", "0"])

    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "make local: cdk.json: unknown environment 'qa' (-c env=...); known: ['dev', 'prod', 'staging']"
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["results", "job-1", "--local"],
            "error: the local stack is not running ({state} is missing): start it with `make local` in "
            "another terminal, then run this again",
        ),
        (
            ["results", "job-1", "--env", "dev"],
            "error: no AWS credentials for environment 'dev': run `aws configure` or `aws sso login`, or set "
            "AWS_PROFILE; for the local stack use --local",
        ),
        (["enqueue", "{missing}", "--env", "dev"], None),
    ],
    ids=["stack-not-running", "no-credentials", "missing-file"],
)
def test_bin_kit_explains_in_one_line(argv, line, tmp_path: Path, monkeypatch, capsys) -> None:
    # Given no local stack and no AWS credentials
    state = tmp_path / "stack.json"
    monkeypatch.setenv(STATE_FILE_VARIABLE, str(state))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    missing = tmp_path / "work.jsonl"
    argv = [arg.format(missing=missing) for arg in argv]
    if line is None:  # with credentials, the file is what is missing
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        line = f"error: file not found: {missing}"

    # When the command runs
    code = kit.main(argv)

    # Then it exits 1 with exactly one line on stderr after the "acting on" note, and no traceback
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == line.format(state=state)
