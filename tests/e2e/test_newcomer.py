"""A newcomer's first hour, scripted, in the README's order: a fresh clone, `make local` on free ports with
dev's cdk.json settings, an answer streamed with curl and then in the chat page (headless Chromium), a JSONL
enqueued and waited for with bin/kit, the spend guard closed (the page refuses, saying why) and reopened (it
answers again); then usage and quotas from the terminal.

The clone is `git clone` of this checkout plus its uncommitted changes to tracked files (`git diff HEAD`), so
what runs is what a push would publish: a new file must be `git add`ed first. It gets the suite's `.venv` (a
symlink, as every worktree here has), and make is told not to reinstall it (`-o .venv/.installed`: installing
needs PyPI, and the suite itself runs in that .venv). The newcomer has PATH and HOME only: no AWS variables,
no endpoint, no credentials, no KIT_* variable; bin/kit finds the stack through the clone's own
`.local/stack.json`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from tests.fixtures.chat_page import answer_states, ask, chat_page, open_chat, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
#: Quick batches and fast streams, so the suite does not wait on the fake's terminal-friendly pace.
FAKE_PACE = "--batch-delay 0.5 --tokens-per-second 2000 --first-token-delay 0"
#: The README's first question, and what Claude (the fake, scripted) answers it with.
QUESTION = "Why does streaming matter?"
TEXT = "Streaming matters because the first words reach the reader while the rest is written."
#: The fake writes one output token per word (with its leading space).
WORDS = re.findall(r"\s*\S+", TEXT)
#: Slow enough that the page renders many partial answers, fast enough to finish in about a second.
TOKENS_PER_SECOND = 20
_HI = {"role": "user", "content": "Hi"}


@dataclass(frozen=True)
class Newcomer:
    """A fresh clone with `make local` running in it, and what its banner printed."""

    checkout: Path
    home: Path
    banner: str
    urls: dict[str, str]

    def run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            env=newcomers_environment(self.home),
            timeout=timeout,
            check=False,
            cwd=self.checkout,
        )

    def kit(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run("bin/kit", *args, timeout=timeout)

    def fake(self, control: str, body: list[Any]) -> None:
        """Drive the fake Claude over HTTP, as the README's `curl -X POST …/_fake/faults` does."""
        httpx2.post(f"{self.urls['fake Claude']}/_fake/{control}", json=body, timeout=10).raise_for_status()

    def calls_billed(self) -> int:
        """How many calls reached Claude (the fake's ledger: every call it billed)."""
        ledger = httpx2.get(f"{self.urls['fake Claude']}/_fake/ledger", timeout=10)
        return len(ledger.raise_for_status().json()["data"])


def newcomers_environment(home: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}


def program(name: str) -> str:
    """A program the README assumes (git, make, curl): its absence fails the run, naming it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: the newcomer run needs it, as the README does")
    return path


def fresh_clone(destination: Path) -> Path:
    git = [program("git"), "-C", str(ROOT)]
    if subprocess.run([*git, "rev-parse", "--git-dir"], capture_output=True, check=False).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"{ROOT} is not a git checkout: the newcomer run clones it")
        pytest.skip(f"{ROOT} is not a git checkout: the newcomer run clones it")
    subprocess.run([git[0], "clone", "--quiet", str(ROOT), str(destination)], check=True, capture_output=True)
    changes = subprocess.run([*git, "diff", "HEAD", "--binary"], check=True, capture_output=True).stdout
    if changes:
        subprocess.run([git[0], "-C", str(destination), "apply", "--binary"], input=changes, check=True)
    (destination / ".venv").symlink_to((ROOT / ".venv").resolve())
    return destination


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newcomer]:
    base = tmp_path_factory.mktemp("newcomer")
    checkout = fresh_clone(base / "claude-serverless-kit")
    home = base / "home"
    home.mkdir()
    log_path = base / "make-local.log"
    command = [program("make"), "--no-print-directory", "-o", ".venv/.installed", "local"]
    command += ["CHAT_PORT=0", "CLAUDE_PORT=0", "MOTO_PORT=0", f"LOCAL_ARGS={FAKE_PACE}"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=checkout,
            # The chat trusts the spend switch for 30 s (deployed, and by default locally); the guard steps
            # expect the next request to see it, which local/guardrails.py says how to ask for.
            env={**newcomers_environment(home), "KIT_SPEND_SWITCH_MAX_AGE_SECONDS": "0"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
    try:
        banner = _wait_for_banner(process, log_path)
        urls = json.loads((checkout / ".local" / "stack.json").read_text())["urls"]
        yield Newcomer(checkout=checkout, home=home, banner=banner, urls=urls)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal: make and the stack both get it
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a loaded machine: do not leave it running
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_banner(process: subprocess.Popen[bytes], log: Path) -> str:
    """What `make local` printed once it is ready (its last line says how to stop it)."""
    deadline = time.monotonic() + 90  # a guard against a hang, not a measurement
    while "Ctrl-C to stop." not in (text := log.read_text()):
        assert process.poll() is None, f"make local stopped:\n{text}"
        assert time.monotonic() < deadline, f"make local printed no banner within 90 s:\n{text}"
        time.sleep(0.2)
    return text


@pytest.fixture
def page(browser: Browser, newcomer: Newcomer) -> Iterator[Page]:
    match = re.search(r"chat page\s+(http://\S+)", newcomer.banner)
    assert match, newcomer.banner
    yield from chat_page(browser, match[1])


def _sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in body.replace("\r\n", "\n").split("\n\n"):
        name = re.search(r"^event: (.*)$", frame, re.M)
        data = re.search(r"^data: (.*)$", frame, re.M)
        if name and data:
            events.append((name[1], json.loads(data[1])))
    return events


def _chat(newcomer: Newcomer, user: str = "alice", **body: Any) -> httpx2.Response:
    return httpx2.post(
        f"{newcomer.urls['chat API']}/chat",
        json={"message": "Hello", "stream": False, **body},
        headers={"x-kit-user-id": user},
        timeout=60,
    )


def test_a_newcomers_first_run_streams_in_the_page_runs_a_batch_job_and_obeys_the_spend_guard(
    newcomer: Newcomer, page: Page, tmp_path: Path
) -> None:
    # Given make local is running in a fresh clone, and Claude (the fake) answers the README's question with a
    # known text
    newcomer.fake("replies", [{"contains": QUESTION, "text": TEXT}])

    # When the newcomer streams an answer with the README's curl command (on the port make local chose)
    chat_url = newcomer.urls["chat API"]
    curl = newcomer.run(
        *(program("curl"), "-N", f"{chat_url}/chat", "-H", "content-type: application/json"),
        *("-H", "x-kit-user-id: alice", "-d", json.dumps({"message": QUESTION})),
    )
    # Then the answer arrives as server-sent events: start, the text in pieces, done
    assert curl.returncode == 0, curl.stderr
    events = _sse_events(curl.stdout)
    names = [name for name, _ in events]
    assert (names[0], names[-1], names.count("delta") > 1) == ("start", "done", True), names
    assert "".join(data["text"] for name, data in events if name == "delta") == TEXT
    # and docs/chat.md's curl for the conversation so far shows both turns
    session_id = events[0][1]["session_id"]
    history = newcomer.run(program("curl"), f"{chat_url}/chat/{session_id}", "-H", "x-kit-user-id: alice")
    turns = json.loads(history.stdout)["turns"]
    assert [(turn["role"], turn["text"]) for turn in turns] == [("user", QUESTION), ("assistant", TEXT)]

    # When they open the chat page the banner names, and ask the same question while Claude writes slowly
    newcomer.fake("faults", [f"slow_stream,tokens_per_second={TOKENS_PER_SECOND}"])
    open_chat(page)
    answer = ask(page, QUESTION)
    screenshot(page, "newcomer-answer")
    # Then the answer grew piece by piece (many partial texts, each a prefix) before its done line
    partial = [state["text"] for state in answer_states(page) if not state["done"] and state["text"]]
    assert len(set(partial)) >= len(WORDS) // 2, partial
    assert all(TEXT.startswith(text) for text in partial), partial
    assert answer.get_attribute("data-state") == "done"
    assert answer.locator(".text").inner_text() == TEXT
    assert re.search(rf"\d+ in / {len(WORDS)} out tokens", answer.locator(".meta").inner_text())

    # When they enqueue a JSONL of three work items, one asking for more than dev's max_tokens cap (1024 in
    # cdk.json), and wait for the results, exporting nothing
    items = tmp_path / "work.jsonl"
    lines = [{"custom_id": f"n-{n}", "params": {"max_tokens": 16, "messages": [_HI]}} for n in range(2)]
    lines.append({"custom_id": "big", "params": {"max_tokens": 2048, "messages": [_HI]}})
    items.write_text("".join(json.dumps(line) + "\n" for line in lines))
    enqueued = newcomer.kit("enqueue", str(items), "--local", "--job-id", "first-job")
    done = newcomer.kit(
        *("results", "first-job", "--local", "--wait", "--timeout", "90", "--interval", "0.5"),
        *("--download", str(tmp_path / "out"), "--json"),
    )
    # Then the over-cap line is named (dev's cap applies locally), the rest run to completion
    assert enqueued.returncode == 1, enqueued.stderr
    assert "line 3" in enqueued.stdout
    assert "1024" in enqueued.stdout
    assert "sent: 2" in enqueued.stdout
    assert "the local stack at" in enqueued.stderr
    assert "cdk.json 'dev'" in enqueued.stderr
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["status"], summary["counts"], summary["problems"]) == ("COMPLETED", {"SUCCEEDED": 2}, [])
    # and the answers are on disk, one result line per item
    files = list((tmp_path / "out" / "results" / "first-job").glob("*.jsonl"))
    results = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    assert sorted(r["custom_id"] for r in results) == ["n-0", "n-1"]
    assert {r["result"]["type"] for r in results} == {"succeeded"}

    # When the operator closes the spend guard with bin/kit, and the newcomer asks on the page
    closed = newcomer.kit("spend-guard", "close", "--local", "--reason", "newcomer test")
    calls = newcomer.calls_billed()
    refused = ask(page, "Are you still there?")
    screenshot(page, "newcomer-spend-guard-closed")
    # Then the switch is closed with that reason and the batch consumer paused, and the page says why it
    # refused (the brake's words, never the operator's free text) and that nothing reached Claude
    assert closed.returncode == 0, closed.stderr
    assert "spend switch: CLOSED" in closed.stdout
    assert "newcomer test" in closed.stdout
    assert "batch consumers changed: 1" in closed.stdout
    assert refused.get_attribute("data-state") == "refused"
    refusal = refused.locator(".problem").inner_text()
    assert "Refused (503 spend_guard_closed): The service is paused by its operators." in refusal
    assert "Nothing was sent to Claude" in refusal
    assert "newcomer test" not in refusal
    assert newcomer.calls_billed() == calls

    # When the operator reopens it and the newcomer asks again
    reopened = newcomer.kit("spend-guard", "reopen", "--local")
    again = ask(page, QUESTION)
    # Then the page answers again
    assert reopened.returncode == 0, reopened.stderr
    assert "spend switch: OPEN" in reopened.stdout
    assert again.get_attribute("data-state") == "done"
    assert again.locator(".text").inner_text() == TEXT


def test_usage_and_quota_from_the_terminal(newcomer: Newcomer) -> None:
    # Given bob chatted once
    assert _chat(newcomer, user="bob").status_code == 200

    # When the operator looks at today's usage and gives carol her own allowance
    usage = newcomer.kit("usage", "--local", "--json")
    set_quota = newcomer.kit("quota", "set", "carol", "--daily-usd", "2.5", "--local")
    shown = newcomer.kit("quota", "show", "carol", "--local", "--json")

    # Then bob's call and cost are there, and carol's allowance is hers, not dev's default (1 USD)
    assert usage.returncode == 0, usage.stderr
    bob = next(user for user in json.loads(usage.stdout)["users"] if user["user_id"] == "bob")
    assert bob["calls"] == 1
    assert bob["tokens"] > 0
    assert bob["cost_usd"] > 0
    # by model too: the one model that answered carries the whole call
    assert [(m["calls"], m["tokens"], m["cost_usd"]) for m in bob["models"].values()] == [
        (1, bob["tokens"], bob["cost_usd"])
    ]
    table = newcomer.kit("usage", "--local")
    assert "by user and model" in table.stdout
    assert set_quota.returncode == 0, set_quota.stderr
    assert json.loads(shown.stdout)["allowance"] == {"daily_usd": 2.5}


def test_a_callers_own_system_prompt_is_refused_by_default(newcomer: Newcomer) -> None:
    response = _chat(newcomer, system="You are a pirate.")

    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "system"
