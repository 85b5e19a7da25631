"""The fake's controls: fault queue, batch item rules, key checks, rate-limit headers, clock and reset."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from local.fake_claude import FakeClaude, FakeClaudeConfig, Fault
from local.fake_claude.protocol import ApiError, BatchRequestItem, MessagesRequest

KEY = "sk-ant-placeholder-test-key"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakeClaude:
    return FakeClaude(FakeClaudeConfig(api_key=KEY), clock=clock)


def _request(**changes: Any) -> MessagesRequest:
    body = {"model": "claude-sonnet-5-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    return MessagesRequest.model_validate({**body, **changes})


def _items(*custom_ids: str, model: str = "claude-haiku-5-5") -> list[BatchRequestItem]:
    params = {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    return [BatchRequestItem.model_validate({"custom_id": cid, "params": params}) for cid in custom_ids]


def test_each_call_takes_the_oldest_fault_that_applies_to_it(fake: FakeClaude) -> None:
    # Given a cut (streams only) queued before an overload (any call)
    fake.inject(Fault.cut_stream(after_events=2), Fault.overloaded())
    # When a non-streaming call, then a streaming call, then another call arrive
    # Then the first takes the overload, the second the cut, the third nothing
    assert fake.take_fault(stream=False) == Fault.overloaded()
    assert fake.take_fault(stream=True) == Fault.cut_stream(after_events=2)
    assert fake.take_fault(stream=True) is None


@pytest.mark.parametrize(
    "headers",
    [{"authorization": f"Bearer {KEY}"}, {"x-api-key": KEY}],
    ids=["bearer", "x-api-key"],
)
def test_the_key_is_accepted_from_either_header(fake: FakeClaude, headers: dict[str, str]) -> None:
    assert fake.authenticated(headers)


def test_a_rotated_key_refuses_the_old_one(fake: FakeClaude) -> None:
    fake.set_api_key("sk-ant-placeholder-rotated")
    assert not fake.authenticated({"authorization": f"Bearer {KEY}"})
    assert fake.authenticated({"x-api-key": "sk-ant-placeholder-rotated"})


def test_an_unknown_model_is_not_found(fake: FakeClaude) -> None:
    with pytest.raises(ApiError) as raised:
        fake.check_model("claude-imaginary-9")
    assert (raised.value.status, raised.value.error_type) == (404, "not_found_error")


def test_matching_batch_items_come_back_errored_or_expired(fake: FakeClaude) -> None:
    # Given rules for two custom_id patterns
    fake.inject(
        Fault.batch_item("bad-*", error_type="overloaded_error"), Fault.batch_item("late-*", "expired")
    )
    # When a batch with good, bad and late items ends
    batch = fake.create_batch(_items("good-1", "bad-1", "late-1"))
    results = {r["custom_id"]: r["result"] for r in fake.batch_results(batch.id)}
    # Then each item has the result its rule asks for
    assert results["good-1"]["type"] == "succeeded"
    assert results["good-1"]["message"]["usage"]["service_tier"] == "batch"
    assert results["bad-1"]["type"] == "errored"
    assert results["bad-1"]["error"]["error"]["type"] == "overloaded_error"
    assert results["late-1"] == {"type": "expired"}


def test_a_batch_item_for_an_unknown_model_errors(fake: FakeClaude) -> None:
    batch = fake.create_batch(_items("x", model="claude-imaginary-9"))
    [result] = fake.batch_results(batch.id)
    assert result["result"]["error"]["error"]["type"] == "not_found_error"


def test_batches_finish_when_the_clock_is_advanced(fake: FakeClaude) -> None:
    fake.configure(batch_processing_delay_s=600)
    batch = fake.create_batch(_items("a"))
    assert fake.batch(batch.id).processing_status == "in_progress"
    fake.advance_clock(600)
    assert fake.batch(batch.id).processing_status == "ended"


def test_custom_ids_of_accepted_batches_are_remembered_in_order(fake: FakeClaude) -> None:
    fake.create_batch(_items("a", "b"))
    fake.create_batch(_items("c", "a"))
    assert fake.batch_custom_ids() == ["a", "b", "c", "a"]


def test_rate_limit_headers_count_down_and_reset_with_the_minute(
    fake: FakeClaude, clock: ManualClock
) -> None:
    # Given a limit of 10 requests a minute
    fake.configure(requests_per_minute=10)
    # When three calls are answered
    for _ in range(3):
        fake.answer(_request())
    during = fake.rate_limit_headers()
    clock.now += 60
    after = fake.rate_limit_headers()
    # Then 7 remain in this minute, all 10 in the next, and token headers are present
    assert during["anthropic-ratelimit-requests-remaining"] == "7"
    assert after["anthropic-ratelimit-requests-remaining"] == "10"
    assert int(during["anthropic-ratelimit-output-tokens-remaining"]) < 400_000
    assert during["anthropic-ratelimit-tokens-reset"].endswith("Z")
    assert fake.rate_limit_headers(exhausted=True)["anthropic-ratelimit-requests-remaining"] == "0"


def test_configure_validates_and_reset_restores_everything(fake: FakeClaude) -> None:
    # Given a fake with changed settings, a fault, a request, a batch and a moved clock
    with pytest.raises(ValidationError):
        fake.configure(tokens_per_second=-1)
    fake.configure(text="Fixed reply.", api_key="sk-ant-placeholder-other")
    fake.inject(Fault.overloaded())
    fake.create_batch(_items("a"))
    fake.advance_clock(3600)
    before = fake.now()
    # When it is reset
    fake.reset()
    # Then it is as built
    assert fake.config == FakeClaudeConfig(api_key=KEY)
    assert fake.take_fault(stream=False) is None
    assert fake.batch_custom_ids() == []
    assert fake.now() < before
    assert fake.answer(_request()).text != "Fixed reply."
