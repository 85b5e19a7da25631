"""The chat page in a real headless Chromium (Debian's `chromium`, driven by Playwright: the shared `browser`
fixture, tests/fixtures/chat_page.py) against the local stack: a user types, the answer appears as Claude
writes it, then the done line; refusals read as words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
import httpx2
import pytest

from chat_api import lifecycle
from chat_api.app import create_app
from chat_api.settings import ChatSettings
from local.fake_claude import Fault
from tests.fixtures.alert_messages import alarm_message, sns_event
from tests.fixtures.chat import ChatClient
from tests.fixtures.chat_page import answer_states, chat_page, open_chat, screenshot, send
from tests.fixtures.spend_guard import BRAKE_ALARM, LambdaContext

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

    from local.stack import LocalStack

pytestmark = pytest.mark.slow

TEXT = "Streaming matters because the first words reach the reader while the rest of the answer is written."
#: The fake writes one output token per word (with its leading space).
WORDS = re.findall(r"\s*\S+", TEXT)
#: Slow enough that the page must render many intermediate states, fast enough to finish in about a second.
TOKENS_PER_SECOND = 20


@pytest.fixture
def page(browser: Browser, chat: ChatClient, local_stack_env: LocalStack) -> Iterator[Page]:
    yield from chat_page(browser, local_stack_env.urls["chat API"])


def test_an_answer_streams_into_the_page_and_ends_with_tokens_cost_and_time_to_first_token(
    page: Page, chat: ChatClient
) -> None:
    # Given Claude writes a known answer, slowly
    chat.fake.configure(text=TEXT)
    chat.fake.inject(Fault.slow_stream(tokens_per_second=TOKENS_PER_SECOND))

    # When alice types a message and presses Enter
    open_chat(page)
    send(page, "Why does streaming matter?")
    page.wait_for_selector(".turn.assistant[data-state=done]")
    screenshot(page, "chat-page-answer")

    # Then the answer grew word by word before the done line appeared: many partial texts, each a prefix
    states = answer_states(page)
    partial = [state["text"] for state in states if not state["done"] and state["text"]]
    assert len(set(partial)) >= len(WORDS) // 2, partial
    assert all(TEXT.startswith(text) for text in partial)
    # and ended as exactly what Claude wrote
    assert page.inner_text(".turn.assistant .text") == TEXT
    # with the done line: model, tokens, cost and time to first token
    done_line = page.inner_text(".turn.assistant .meta")
    assert re.search(rf"\d+ in / {len(WORDS)} out tokens", done_line), done_line
    assert re.search(r"\$\d+\.\d{6}", done_line), done_line
    assert re.search(r"first token \d+ ms", done_line), done_line
    assert page.inner_text(".turn.user") == "Why does streaming matter?"


def test_the_conversation_continues_in_one_session_and_survives_a_reload(
    page: Page, chat: ChatClient
) -> None:
    # Given alice has had one exchange on the page
    open_chat(page)
    send(page, "First question")
    page.wait_for_selector(".turn.assistant[data-state=done]")
    session = page.inner_text("#session")

    # When she asks again, then reloads the page
    send(page, "Second question")
    page.wait_for_selector(".turn.assistant:nth-of-type(4)[data-state=done]")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")

    # Then the second message went to the same session (Claude saw the first exchange too)
    assert page.inner_text("#session") == session
    session_id = session.removeprefix("session ")
    assert len(chat.history(session_id).json()["turns"]) == 4
    last_request = chat.fake.message_calls()[-1]
    assert [message["role"] for message in last_request.body["messages"]] == ["user", "assistant", "user"]
    # and the reloaded page shows the whole conversation
    assert page.locator(".turn").count() == 4
    assert page.locator(".turn.user").all_inner_texts() == ["First question", "Second question"]


def _over_allowance(stack: LocalStack) -> None:
    allowance = Decimal(stack.env["KIT_USER_DAILY_USD_ALLOWANCE"])
    table = boto3.resource("dynamodb").Table(stack.env["KIT_QUOTA_TABLE"])
    today = datetime.now(UTC).date().isoformat()
    table.put_item(
        Item={"user_id": "big-spender", "day": today, "committed_usd": allowance, "spent_usd": allowance}
    )


def test_refusals_and_failures_read_as_words(
    page: Page, chat: ChatClient, local_stack_env: LocalStack, spend_guard: Any
) -> None:
    # Given a page with no user name, a user over the allowance, a too-long message, a failing stream and a
    # closed spend guard, one after the other
    open_chat(page, user=None)
    shown: list[str] = []

    def outcome(message: str) -> str:
        send(page, message)
        turn = page.locator(".turn.assistant").last
        turn.locator(".problem").wait_for()
        shown.append(turn.inner_text())
        return shown[-1]

    # When each is sent, then the page says what happened and what to do
    assert "401 unauthenticated" in outcome("Hello?")
    assert "Enter a user name above" in shown[-1]

    _over_allowance(local_stack_env)
    page.fill("#identity", "big-spender")
    assert "429 quota_exceeded" in outcome("One more question")
    assert "allowance" in shown[-1]

    page.fill("#identity", "alice")
    limit = int(local_stack_env.env["KIT_CHAT_MESSAGE_MAX_CHARS"])
    assert "422 invalid_request" in outcome("x" * (limit + 1))
    assert f"message: must be at most {limit} characters" in shown[-1]

    chat.fake.inject(Fault.stream_error(after_events=4))
    assert "Failed (overloaded_error)" in outcome("Tell me a story")
    assert "Sending it again may work" in shown[-1]

    spend_guard(sns_event(alarm_message(BRAKE_ALARM)), LambdaContext())
    assert "503 spend_guard_closed" in outcome("Are you there?")
    assert "budget has been reached" in shown[-1]
    screenshot(page, "chat-page-refusals")

    # And only the failing stream reached Claude
    assert len(chat.fake.message_calls()) == 1


def test_the_api_docs_work_offline_and_try_it_out_authenticates(
    page: Page, chat: ChatClient, local_stack_env: LocalStack
) -> None:
    # Given Swagger UI opened from the local chat API, every request the browser makes recorded
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.goto("/docs")
    page.wait_for_selector(".opblock")

    # When the user authorizes with a user name and tries POST /chat
    page.click("button.authorize")
    page.fill(".auth-container input", "alice")
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    page.click("#operations-default-chat_chat_post .opblock-summary")
    page.fill(
        "#operations-default-chat_chat_post textarea.body-param__text", '{"message": "Hi", "stream": false}'
    )
    page.click("#operations-default-chat_chat_post .execute")
    status = page.locator(
        "#operations-default-chat_chat_post .live-responses-table td.response-col_status:not(.col_header)"
    )
    status.wait_for()
    screenshot(page, "api-docs-try-it-out")

    # Then the answer came back for alice, through the same server the docs came from
    assert status.inner_text().strip() == "200"
    (call,) = [request for request in requests if request.method == "POST"]
    origin = local_stack_env.urls["chat API"]
    assert call.url == f"{origin}/chat"
    assert call.headers["x-kit-user-id"] == "alice"
    assert len(chat.fake.message_calls()) == 1
    # and nothing the page loaded came from anywhere else (no CDN)
    assert [request.url for request in requests if not request.url.startswith(origin)] == []


@pytest.fixture
def other_origin_api(local_stack_env: LocalStack, chat: ChatClient) -> Iterator[str]:
    """A second chat API on this stack that allows the local chat API's origin (where the page is) only."""
    from local.serving import BackgroundServer

    settings = ChatSettings(cors_allow_origins=(local_stack_env.urls["chat API"],))
    server = BackgroundServer(create_app(settings=settings), name="chat-api-cors")
    url = server.start()
    yield url
    # The Claude clients it made belong to its event loop: it closes them, before the loop goes.
    httpx2.post(f"{url}{lifecycle.BEFORE_CHECKPOINT_PATH}").raise_for_status()
    server.stop()


def test_a_page_on_an_allowed_origin_streams_from_the_api_across_origins(
    page: Page, chat: ChatClient, local_stack_env: LocalStack, other_origin_api: str
) -> None:
    # Given another chat API that allows the page's origin, and Claude answers with a known text
    chat.fake.configure(text=TEXT)
    open_chat(page)

    # When the page posts to it with the identity header (a cross-origin request the browser preflights),
    # and a page on an origin it does not allow does the same
    allowed = page.evaluate(CROSS_ORIGIN_CHAT, other_origin_api)
    page.goto(local_stack_env.urls["moto (AWS)"])
    refused = page.evaluate(CROSS_ORIGIN_CHAT, other_origin_api)

    # Then the allowed page reads the whole stream, and the browser keeps the other from reading anything
    assert allowed["status"] == 200, allowed
    events = [
        (re.findall(r"^event: (.*)$", frame, re.M), re.findall(r"^data: (.*)$", frame, re.M))
        for frame in allowed["body"].split("\n\n")
        if frame.strip()
    ]
    assert [name for (name,), _ in events][-1] == "done"
    assert "".join(json.loads(data)["text"] for (name,), (data,) in events if name == "delta") == TEXT
    assert refused == {"error": "TypeError"}
    assert len(chat.fake.message_calls()) == 1


CROSS_ORIGIN_CHAT = """
async (url) => {
  try {
    const response = await fetch(`${url}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-kit-user-id": "alice" },
      body: JSON.stringify({ message: "Across origins?" }),
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { error: error.name };
  }
}
"""
