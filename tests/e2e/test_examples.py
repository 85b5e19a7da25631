"""The example clients under examples/, run as a user runs them (their own process, real HTTP) against the
local stack: each streams a known answer, says what a failure or refusal was, and the batch example waits for
its job and prints every answer."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch_jobs import clients
from local.fake_claude import Fault
from local.stack import LocalStack
from tests.fixtures.chat import ChatClient
from tests.integration.batch_jobs.support import close_claude_client

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples"
TEXT = "Examples stream the answer exactly as the chat page does."
WORDS = re.findall(r"\s*\S+", TEXT)


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **(env or {})}
    )


def needs(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed")
    return path


def chat_commands(url: str) -> dict[str, list[str]]:
    """Each streaming example, asked as user alice (MESSAGE is the last argument, appended by the test)."""
    return {
        "python": [sys.executable, str(EXAMPLES / "python" / "chat.py"), "--url", url, "--user", "alice"],
        "node": [needs("node"), str(EXAMPLES / "js" / "chat.mjs"), "--url", url, "--user", "alice"],
    }


@pytest.mark.parametrize("client", ["python", "node"])
def test_a_streaming_example_prints_the_answer_and_then_tokens_cost_and_ttft(
    client: str, chat: ChatClient, local_stack_env: LocalStack
) -> None:
    # Given Claude answers with a known text
    chat.fake.configure(text=TEXT)
    command = chat_commands(local_stack_env.urls["chat API"])[client]

    # When the example asks, then asks again in the session it was given
    first = run([*command, "Why stream?"])
    session = re.search(r"session: (\S+)", first.stderr)
    assert session, first.stderr
    second = run([*command, "--session", session.group(1), "And then?"])

    # Then it printed exactly what Claude wrote, and a summary with the tokens Claude reported
    assert first.returncode == 0, first.stderr
    assert first.stdout == TEXT + "\n"
    assert re.search(rf"done: claude-\S+, \d+ in / {len(WORDS)} out tokens, \$\d+\.\d{{6}}", first.stderr)
    assert "first token " in first.stderr
    # and the second answer continued the same conversation
    assert second.returncode == 0, second.stderr
    assert len(chat.history(session.group(1)).json()["turns"]) == 4


@pytest.mark.parametrize("client", ["python", "node"])
def test_a_streaming_example_reports_a_failed_stream_and_a_refusal_in_words(
    client: str, chat: ChatClient, local_stack_env: LocalStack
) -> None:
    # Given the answer will fail once it has started
    chat.fake.configure(text=TEXT)
    chat.fake.inject(Fault.stream_error(after_events=5))
    command = chat_commands(local_stack_env.urls["chat API"])[client]

    # When the example asks, and then asks with a model the deployment does not allow
    failed = run([*command, "Tell me a story"])
    refused = run([*command, "--model", "claude-nonexistent", "Hi"]) if client == "python" else None

    # Then the failure is exit 1 with the error's type and whether to resend; what arrived is kept
    assert failed.returncode == 1, failed.stderr
    assert "error: overloaded_error:" in failed.stderr
    assert "sending it again may work" in failed.stderr
    assert TEXT.startswith(failed.stdout.strip())
    # and a refusal is exit 2 naming the field, before anything reached Claude
    if refused is not None:
        assert refused.returncode == 2, refused.stderr
        assert "422 invalid_request" in refused.stderr
        assert "model: must be one of" in refused.stderr
    assert len(chat.fake.message_calls()) == 1


def test_the_node_example_is_refused_in_words_without_a_known_identity(local_stack_env: LocalStack) -> None:
    command = [needs("node"), str(EXAMPLES / "js" / "chat.mjs"), "--url", local_stack_env.urls["chat API"]]

    refused = run([*command, "--user", "not a valid name!", "Hi"])

    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("refused: 401 unauthenticated:")


def test_the_curl_example_streams_server_sent_events_and_fails_on_a_refusal(
    chat: ChatClient, local_stack_env: LocalStack
) -> None:
    needs("curl")
    needs("jq")
    chat.fake.configure(text=TEXT)
    script = str(EXAMPLES / "curl" / "chat.sh")
    url = local_stack_env.urls["chat API"]

    streamed = run([script, 'Say "hi"'], env={"CHAT_URL": url, "CHAT_USER": "alice"})
    refused = run([script, "Hi"], env={"CHAT_URL": url, "CHAT_USER": "not a valid name!"})

    # The events, in order, carry the whole answer (the message's quotes survived the JSON body)
    assert streamed.returncode == 0, streamed.stderr
    names = re.findall(r"^event: (\w+)$", streamed.stdout, flags=re.MULTILINE)
    assert names[0] == "start"
    assert names[-1] == "done"
    deltas = [
        json.loads(data)["text"] for data in re.findall(r"^event: delta\ndata: (.*)$", streamed.stdout, re.M)
    ]
    assert "".join(deltas) == TEXT
    assert 'Say "hi"' in chat.fake.message_calls()[-1].body["messages"][-1]["content"]
    # and a refusal is curl's --fail-with-body exit status, with the JSON error printed
    assert refused.returncode == 22
    assert json.loads(refused.stdout)["error"]["type"] == "unauthenticated"


@pytest.fixture
def batch_stack(local_stack_env: LocalStack) -> Iterator[LocalStack]:
    """The stack's consumer and poller run in this process: their clients must be this stack's, not cached
    from another module's."""
    clients.reset()
    yield local_stack_env
    close_claude_client()
    clients.reset()


def test_the_batch_example_sends_a_job_waits_for_it_and_prints_every_answer(
    batch_stack: LocalStack, tmp_path: Path
) -> None:
    # Given three work items
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(
            json.dumps(
                {
                    "custom_id": f"q{n}",
                    "params": {"max_tokens": 64, "messages": [{"role": "user", "content": f"Question {n}"}]},
                }
            )
            + "\n"
            for n in range(3)
        )
    )

    # When the example runs with the local stack's AWS settings
    done = run(
        [
            sys.executable,
            str(EXAMPLES / "python" / "batch.py"),
            str(items),
            "--env",
            batch_stack.env_name,
            "--url",
            batch_stack.urls["chat API"],
            "--user",
            "alice",
            "--timeout",
            "90",
            "--poll",
            "0.5",
        ],
        env=dict(batch_stack.env),
    )

    # Then the job completed and each item's answer is printed once
    assert done.returncode == 0, done.stderr
    assert "COMPLETED: {'SUCCEEDED': 3}" in done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [answer["custom_id"] for answer in answers] == ["q0", "q1", "q2"]
    for n, answer in enumerate(answers):
        assert f"Question {n}" in answer["text"]
