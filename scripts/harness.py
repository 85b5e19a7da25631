"""The benchmark's stack: moto, the fake Claude and the chat app, each a process of its own, on loopback.

moto starts empty for every `BenchStack` (it slows as its tables grow) and counts the AWS calls it answers.
The local stack's own provisioning steps create the resources, so the functions get the environment
`make local` gives them, with production logging (Powertools at the default INFO level, EMF metrics on,
both written to a file as Lambda writes them to CloudWatch). The chat app starts the way Lambda starts it:
`functions/chat_api/run.sh`, with `python3` from the project's virtualenv.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Self

import httpx2

import local  # noqa: F401  (puts functions/, the Lambda bundle root, on sys.path)
from infra.config import EnvironmentConfig
from local.context import PLACEHOLDER_AWS_CREDENTIALS, LocalContext
from local.fake_claude import FakeClaudeConfig
from local.stack import PROVISIONERS
from scripts.servers import CALLS_PATH

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_SH = REPO_ROOT / "functions" / "chat_api" / "run.sh"
ENV_NAME = "bench"
API_KEY = FakeClaudeConfig().api_key
_READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def python_environment() -> dict[str, str]:
    """This environment with the virtualenv's interpreter first on PATH (`run.sh` runs `python3`)."""
    venv_bin = str(Path(sys.executable).parent)
    environment = {**os.environ, "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")])}
    for name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL", "PYTHONDONTWRITEBYTECODE"):
        environment.pop(name, None)  # production logging and metrics; bytecode cached as Lambda ships it
    return environment


class ServerProcess:
    """`python -m scripts.servers KIND`: its URL is the first line it prints; closing its stdin stops it."""

    def __init__(self, kind: str, *args: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed module
            [sys.executable, "-m", "scripts.servers", kind, *args],
            cwd=REPO_ROOT,
            env=python_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # moto's own log lines would bury the table.
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the {kind} server did not start")

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class BenchStack:
    """moto + fake Claude + provisioned resources; `start_chat()` adds a chat app process."""

    def __init__(self, *, words: int = 1000) -> None:
        self._words = words
        self._running = ExitStack()
        self.env: dict[str, str] = {}
        self.moto_url = self.fake_url = ""
        self._logs: IO[bytes] | None = None

    def __enter__(self) -> Self:
        with ExitStack() as starting:
            moto = ServerProcess("moto")
            starting.callback(moto.stop)
            fake = ServerProcess("fake", "--words", str(self._words))
            starting.callback(fake.stop)
            self.moto_url, self.fake_url = moto.url, fake.url
            config = EnvironmentConfig()
            # As local.stack.LocalStack.start builds the functions' environment (moto and the fake elsewhere).
            self.env = {
                **PLACEHOLDER_AWS_CREDENTIALS,
                "AWS_ENDPOINT_URL": moto.url,
                "AWS_DEFAULT_REGION": config.region,
                "AWS_REGION": config.region,
                "KIT_ENV_NAME": ENV_NAME,
                "POWERTOOLS_SERVICE_NAME": "claude-serverless-kit",
                "POWERTOOLS_METRICS_NAMESPACE": "ClaudeServerlessKit",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "KIT_CLAUDE_BASE_URL": fake.url,
            }
            context = LocalContext(ENV_NAME, config, moto.url, API_KEY)
            for provision in PROVISIONERS:
                self.env.update(provision(context))
            self._logs = starting.enter_context(tempfile.TemporaryFile())
            self._running = starting.pop_all()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._running.close()

    def process_environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        environment = {**python_environment(), **self.env, **(extra or {})}
        environment.pop("ANTHROPIC_API_KEY", None)  # the functions find the key in the secret only
        return environment

    def start_chat(self) -> ChatProcess:
        """The chat app as run.sh starts it; stopped with the stack."""
        chat = ChatProcess(self.process_environment(), logs=self._logs)
        self._running.callback(chat.stop)
        chat.wait_ready()
        return chat

    def aws_calls(self) -> Counter[str]:
        """Every AWS call moto has answered so far, by operation."""
        response = httpx2.get(f"{self.moto_url}{CALLS_PATH}")
        response.raise_for_status()
        return Counter(response.json())

    def settled_aws_calls(self) -> Counter[str]:
        """The count once no call has arrived for 50 ms (a response may end before its last write)."""
        calls = self.aws_calls()
        while True:
            time.sleep(0.05)
            again = self.aws_calls()
            if again == calls:
                return calls
            calls = again


class ChatProcess:
    """`sh functions/chat_api/run.sh` on a free port; `cpu_seconds()` reads its CPU time from /proc."""

    def __init__(self, environment: dict[str, str], *, logs: IO[bytes] | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - the kit's own launcher
            ["/bin/sh", str(RUN_SH)],
            env={**environment, "PORT": str(self.port)},
            stdout=logs or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> float:
        """Seconds from process start until GET /health answers 200 (the Lambda Web Adapter waits for it)."""
        deadline = self.started + _READY_TIMEOUT_S
        with httpx2.Client(timeout=1.0) as http:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError("the chat app exited during startup")
                try:
                    if http.get(f"{self.url}/health").status_code == 200:
                        return time.perf_counter() - self.started
                except httpx2.TransportError:
                    pass
                time.sleep(0.002)
        raise RuntimeError(f"the chat app was not ready within {_READY_TIMEOUT_S:g} s")

    def cpu_seconds(self) -> float:
        """User + system CPU of the app's process, all threads, dead ones included (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)
        return ticks / os.sysconf("SC_CLK_TCK")

    def thread_cpu_seconds(self) -> float:
        """CPU of the app's live threads, to the nanosecond (/proc/PID/task/*/schedstat): per request."""
        total = 0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):  # the thread ended while we looked
                continue
        return total / 1e9

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
