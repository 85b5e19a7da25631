"""Each fault reaches the SDK as the error class the real API would produce; the fake sees clients leave."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer, Fault
from tests.integration.fake_claude.conftest import MODEL, ask


def _stream_all(client: anthropic.Anthropic) -> None:
    with client.messages.create(model=MODEL, max_tokens=200, messages=ask(), stream=True) as stream:
        for _ in stream:
            pass


def test_a_wrong_key_is_an_authentication_error(fake_claude: FakeClaudeServer) -> None:
    with (
        anthropic.Anthropic(
            base_url=fake_claude.base_url, api_key="sk-ant-placeholder-wrong", max_retries=0
        ) as sdk,
        pytest.raises(anthropic.AuthenticationError) as raised,
    ):
        sdk.messages.create(model=MODEL, max_tokens=10, messages=ask())
    assert raised.value.type == "authentication_error"
    assert raised.value.request_id is not None
    assert raised.value.request_id.startswith("req_")


def test_after_a_key_rotation_the_old_key_is_refused(
    fake_claude: FakeClaudeServer, client: anthropic.Anthropic
) -> None:
    # Given the key was rotated on the server side
    fake_claude.set_api_key("sk-ant-placeholder-rotated")
    # When a client still on the old key calls, and one on the new key
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model=MODEL, max_tokens=10, messages=ask())
    rotated = client.with_options(api_key="sk-ant-placeholder-rotated")
    # Then only the new key works
    assert rotated.messages.create(model=MODEL, max_tokens=10, messages=ask()).content


def test_an_invalid_body_is_a_bad_request(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "assistant", "content": "Hi"}])
    assert raised.value.type == "invalid_request_error"
    assert raised.value.api_message == 'messages: first message must use the "user" role'


def test_an_unknown_model_is_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        client.messages.create(model="claude-imaginary-9", max_tokens=10, messages=ask())
    assert raised.value.type == "not_found_error"


def test_the_anthropic_version_header_is_required(fake_claude: FakeClaudeServer) -> None:
    # Given a hand-made request with a valid key but no anthropic-version header
    body = {"model": MODEL, "max_tokens": 10, "messages": ask()}
    response = httpx2.post(
        f"{fake_claude.base_url}/v1/messages", json=body, headers={"x-api-key": PLACEHOLDER_API_KEY}
    )
    # Then it is refused as the API does
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_rate_limit_is_a_429_that_says_when_to_retry(
    client: anthropic.Anthropic, fake_claude: FakeClaudeServer
) -> None:
    fake_claude.inject(Fault.rate_limited(retry_after=3))
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model=MODEL, max_tokens=10, messages=ask())
    headers = raised.value.response.headers
    assert (headers["retry-after"], headers["x-should-retry"]) == ("3", "true")
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert raised.value.type == "rate_limit_error"


def test_the_sdk_retries_a_rate_limit_and_then_succeeds(fake_claude: FakeClaudeServer) -> None:
    # Given one 429 asking for a 10 ms wait, and a client allowed one retry
    fake_claude.inject(Fault.rate_limited(retry_after=0.01))
    with anthropic.Anthropic(
        base_url=fake_claude.base_url, api_key=PLACEHOLDER_API_KEY, max_retries=1
    ) as sdk:
        # When it calls
        message = sdk.messages.create(model=MODEL, max_tokens=10, messages=ask())
    # Then the second attempt answers and the fake saw both
    assert message.content
    assert len(fake_claude.message_calls()) == 2


@pytest.mark.parametrize(
    ("fault", "error_class", "status", "error_type"),
    [
        (Fault.overloaded(), anthropic.OverloadedError, 529, "overloaded_error"),
        (Fault.api_error(), anthropic.InternalServerError, 500, "api_error"),
    ],
)
def test_server_side_failures_have_their_own_classes(
    client: anthropic.Anthropic, fake_claude: FakeClaudeServer, fault, error_class, status, error_type
) -> None:
    fake_claude.inject(fault)
    with pytest.raises(error_class) as raised:
        client.messages.create(model=MODEL, max_tokens=10, messages=ask())
    assert (raised.value.status_code, raised.value.type) == (status, error_type)
    if status == 500:
        assert not isinstance(raised.value, anthropic.OverloadedError)


def test_a_fault_waits_for_the_kind_of_call_it_applies_to(
    client: anthropic.Anthropic, fake_claude: FakeClaudeServer
) -> None:
    # Given a mid-stream fault queued
    fake_claude.inject(Fault.stream_error(after_events=3))
    # When a whole (non-streaming) message is created first
    client.messages.create(model=MODEL, max_tokens=10, messages=ask())
    # Then it is untouched, and the next stream gets the fault
    with pytest.raises(anthropic.APIStatusError):
        _stream_all(client)


def test_an_error_event_mid_stream_is_an_api_status_error_with_status_200(
    client: anthropic.Anthropic, fake_claude: FakeClaudeServer
) -> None:
    # Given an overload announced after 4 events (message_start … the first delta)
    fake_claude.inject(Fault.stream_error(after_events=4))
    received: list[anthropic.types.RawMessageStreamEvent] = []
    # When a stream is read
    with (
        client.messages.create(model=MODEL, max_tokens=200, messages=ask(), stream=True) as stream,
        pytest.raises(anthropic.APIStatusError) as raised,
    ):
        received.extend(stream)  # keeps the events that arrived before the error
    # Then it fails as the real API's mid-stream overload does: HTTP 200, error type overloaded_error
    assert type(raised.value) is anthropic.APIStatusError
    assert (raised.value.status_code, raised.value.type) == (200, "overloaded_error")
    assert [event.type for event in received] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]


def test_a_cut_stream_is_a_transport_error_and_not_a_client_disconnect(
    client: anthropic.Anthropic, fake_claude: FakeClaudeServer
) -> None:
    fake_claude.inject(Fault.cut_stream(after_events=5))
    with pytest.raises(httpx2.RemoteProtocolError):
        _stream_all(client)
    assert fake_claude.disconnects == 0


def test_a_stall_past_the_timeout_is_a_timeout_and_the_fake_sees_the_client_leave(
    client: anthropic.Anthropic, fake_claude: FakeClaudeServer
) -> None:
    # Given the fake holds the next call for a minute
    fake_claude.inject(Fault.stall(seconds=60))
    # When a client with a short read timeout calls
    with pytest.raises(anthropic.APITimeoutError):
        client.with_options(timeout=0.2).messages.create(model=MODEL, max_tokens=10, messages=ask())
    # Then the fake notices the connection close
    assert fake_claude.wait_for_disconnects(1)


def test_a_stall_mid_stream_times_out_the_read(
    client: anthropic.Anthropic, fake_claude: FakeClaudeServer
) -> None:
    fake_claude.inject(Fault.stall(seconds=60, after_events=4))
    with (
        pytest.raises(httpx2.ReadTimeout),
        client.with_options(timeout=0.2).messages.create(
            model=MODEL, max_tokens=200, messages=ask(), stream=True
        ) as stream,
    ):
        for _ in stream:
            pass
    assert fake_claude.wait_for_disconnects(1)


def test_closing_a_stream_early_is_seen_as_a_disconnect(
    client: anthropic.Anthropic, fake_claude: FakeClaudeServer
) -> None:
    # Given a stream slow enough that the client can leave before the end
    fake_claude.inject(Fault.slow_stream(tokens_per_second=20))
    # When the client reads the first delta and closes the stream
    with client.messages.create(model=MODEL, max_tokens=200, messages=ask(), stream=True) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                break
    # Then the fake counts one client that went away
    assert fake_claude.wait_for_disconnects(1)
    assert fake_claude.disconnects == 1


def test_an_unknown_route_is_a_not_found_error(fake_claude: FakeClaudeServer) -> None:
    response = httpx2.get(f"{fake_claude.base_url}/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert response.headers["request-id"] == response.json()["request_id"]
