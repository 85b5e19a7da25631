"""ClaudeService.create: the kit's rules applied to the request that is sent, and what comes back."""

from __future__ import annotations

import pytest

from claude_kit.calls import CallContext, ClaudeRequest
from claude_kit.errors import ClaudeAuthenticationError, ClaudeBadRequestError, SpendGuardClosedError
from claude_kit.reservation import SpendGate
from claude_kit.settings import RuntimeSettings
from claude_kit.spend_switch import SpendSwitch
from tests.fixtures.money import MemoryQuota
from tests.unit.claude_kit.api_double import CTX, MODEL, KeySource, ask, error, make_harness, message


def test_create_returns_the_message_with_usage_cost_and_api_request_id():
    harness = make_harness()
    harness.api.queue(message("Bonjour", input_tokens=1000, output_tokens=200, cache_read_input_tokens=5000))

    result = harness.service.create(ask("Salut"), CTX)

    assert (result.text, result.model, result.stop_reason) == ("Bonjour", MODEL, "end_turn")
    assert result.content == [{"type": "text", "text": "Bonjour"}]
    assert result.request_id == "req_ok"
    assert result.cost_usd == pytest.approx((1000 * 2 + 200 * 10 + 5000 * 0.1) / 1e6)
    (record,) = harness.records
    assert record.cache_hit is True
    assert (record.user_id, record.request_id, record.route) == ("user-1", "caller-req-1", "test")
    assert (record.ratelimit_requests_remaining, record.ratelimit_tokens_remaining) == (41, 90000)


def test_params_pass_through_and_max_tokens_is_capped():
    harness = make_harness(settings=RuntimeSettings(max_tokens_cap=1000))
    params = {"temperature": 0.3, "stop_sequences": ["END"], "metadata": {"user_id": "hashed-1"}}

    harness.service.create(ask(max_tokens=50_000, params=params, system="Be brief."), CTX)

    (body,) = harness.api.bodies()
    assert body["max_tokens"] == 1000
    assert (body["temperature"], body["stop_sequences"], body["metadata"]) == (
        0.3,
        ["END"],
        {"user_id": "hashed-1"},
    )
    assert body["system"] == "Be brief."


def test_a_model_outside_the_allowed_list_is_refused_before_any_call():
    harness = make_harness()

    with pytest.raises(ClaudeBadRequestError):
        harness.service.create(ask(model="claude-opus-5-5"), CTX)

    assert harness.api.requests == []
    assert harness.records == []


@pytest.mark.parametrize("reserved", ["model", "max_tokens", "stream"])
def test_params_cannot_override_what_the_kit_decides(reserved):
    harness = make_harness()

    with pytest.raises(ClaudeBadRequestError):
        harness.service.create(ask(params={reserved: "claude-opus-5-5"}), CTX)

    assert harness.api.requests == []


def test_the_context_window_trims_old_turns_and_reports_them():
    # Given a 10-message conversation and a 4-turn window
    harness = make_harness(settings=RuntimeSettings(context_max_turns=4, prompt_caching=False))
    history = [
        {"role": "user" if index % 2 == 0 else "assistant", "content": f"turn {index}"} for index in range(11)
    ]

    harness.service.create(ClaudeRequest(model=MODEL, max_tokens=100, messages=history), CTX)

    (body,) = harness.api.bodies()
    assert [message["content"] for message in body["messages"]] == ["turn 8", "turn 9", "turn 10"]
    assert harness.records[0].context_dropped_turns == 8
    assert harness.records[0].context_dropped_tokens > 0


def test_the_api_token_counter_is_used_when_configured():
    harness = make_harness(settings=RuntimeSettings(context_counter="api", context_max_tokens=5000))

    harness.service.create(ask(), CTX)

    # The double answers count_tokens with 4,321 tokens, within the budget: nothing is trimmed
    paths = [request.url.path for request in harness.api.requests]
    assert paths == ["/v1/messages/count_tokens", "/v1/messages"]


def test_long_system_prompts_and_history_get_cache_breakpoints():
    harness = make_harness()
    system = "You are a meticulous assistant. " * 400  # ≈ 3,700 tokens, over the 1,024 default minimum
    history = [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "Second question"},
    ]

    harness.service.create(ClaudeRequest(model=MODEL, max_tokens=100, messages=history, system=system), CTX)

    (body,) = harness.api.bodies()
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][2]["content"] == "Second question"
    assert history[1]["content"] == "First answer"  # the caller's objects are untouched


def test_an_unreadable_key_is_raised_typed_and_recorded():
    harness = make_harness(keys=KeySource(keys=[]))

    with pytest.raises(ClaudeAuthenticationError):
        harness.service.create(ask(), CTX)

    assert harness.api.requests == []
    assert [record.error_type for record in harness.records] == ["authentication_error"]


def test_an_unknown_model_costs_none_without_failing_the_call():
    harness = make_harness(settings=RuntimeSettings(allowed_models=("claude-future-9",)))

    result = harness.service.create(ask(model="claude-future-9"), CTX)

    assert result.cost_usd is None
    assert harness.records[0].cost_usd is None


def test_the_worst_case_is_held_before_and_the_real_cost_settled_after_each_call():
    quota = MemoryQuota()
    harness = make_harness(gate=SpendGate(quota=quota))  # type: ignore[arg-type]  # a UserQuota stand-in

    result = harness.service.create(ask(), CTX)

    [held] = quota.holds
    assert held.usd > (result.cost_usd or 0) > 0
    assert [charge.usd for charge in quota.settled] == [result.cost_usd]
    assert quota.committed == pytest.approx(quota.spent) == pytest.approx(result.cost_usd)


def test_a_closed_switch_stops_the_call_before_it_is_made():
    switch = SpendSwitch(provider=StaticParameter("closed"), parameter_name="/switch")
    harness = make_harness(gate=SpendGate(switch=switch))

    with pytest.raises(SpendGuardClosedError) as raised:
        harness.service.create(ask(), CTX)

    assert raised.value.http_status == 503
    assert harness.api.requests == []
    assert harness.records == []


def test_a_quota_that_cannot_settle_does_not_undo_a_successful_call():
    harness = make_harness(gate=SpendGate(quota=MemoryQuota(fail_settle=True)))  # type: ignore[arg-type]  # a UserQuota stand-in

    result = harness.service.create(ask(), CTX)

    assert result.text == "Hello there"
    assert len(harness.records) == 1


def test_nothing_is_held_when_the_request_fails_the_rules(monkeypatch):
    # Given a quota and a context window that cannot be computed (count_tokens unavailable)
    quota = MemoryQuota()
    harness = make_harness(gate=SpendGate(quota=quota))  # type: ignore[arg-type]  # a UserQuota stand-in

    def unavailable(*args, **kwargs):
        raise ClaudeBadRequestError("count_tokens unavailable")

    monkeypatch.setattr("claude_kit.call_rules.fit_context", unavailable)

    # When the call is attempted
    with pytest.raises(ClaudeBadRequestError):
        harness.service.create(ask(), CTX)

    # Then nothing was held that would never be settled, and nothing reached Claude
    assert quota.holds == []
    assert harness.api.requests == []


def test_a_failure_after_the_hold_settles_at_zero_known_cost():
    quota = MemoryQuota()
    harness = make_harness(gate=SpendGate(quota=quota))  # type: ignore[arg-type]  # a UserQuota stand-in
    harness.api.queue(error(400, "invalid_request_error"))

    with pytest.raises(ClaudeBadRequestError):
        harness.service.create(ask(), CTX)

    assert [charge.usd for charge in quota.settled] == [0.0]
    assert quota.committed == 0


class StaticParameter:
    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, name: str, max_age: int | None = None) -> str:
        return self.value


@pytest.mark.parametrize(
    ("max_tokens", "remaining_ms", "expected_read"),
    [
        (1000, None, 60.0),  # short answers: the configured read timeout
        (4096, None, 4096 * 3600 / 128_000),  # a whole long answer takes longer than 60 s to arrive
        (4096, 30_000, 30.0),  # but never past the caller's deadline
    ],
)
def test_a_whole_message_gets_the_time_its_max_tokens_can_take(max_tokens, remaining_ms, expected_read):
    # Given a 60 s read timeout and a caller with or without a deadline
    harness = make_harness(settings=RuntimeSettings(read_timeout_seconds=60, max_tokens_cap=8192))
    ctx = CallContext(
        route="test", remaining_time_ms=None if remaining_ms is None else (lambda: remaining_ms)
    )

    # When a whole (non-streamed) message is requested
    harness.service.create(ask(max_tokens=max_tokens), ctx)

    # Then the request's read timeout covers the generation, within the deadline
    (request,) = harness.api.requests
    assert request.extensions["timeout"]["read"] == pytest.approx(expected_read)
    assert request.extensions["timeout"]["connect"] == 5.0
