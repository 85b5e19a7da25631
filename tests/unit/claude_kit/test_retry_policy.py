"""The retry policy, status by status, through the real SDK against a scripted API (no sleeps, no sockets)."""

from __future__ import annotations

import random

import httpx2
import pytest
from tenacity import RetryCallState

from claude_kit.calls import CallContext
from claude_kit.errors import (
    ClaudeAuthenticationError,
    ClaudeBadRequestError,
    ClaudeBusyError,
    ClaudeConnectionError,
    ClaudeRateLimitedError,
    ClaudeTimeoutError,
)
from claude_kit.retry import RetryPolicy, retry_after_seconds, wait_full_jitter
from claude_kit.settings import RuntimeSettings
from tests.unit.claude_kit.api_double import CTX, KeySource, ask, error, make_harness, message, raises

NO_FALLBACK = RuntimeSettings(fallback_model=None)


@pytest.mark.parametrize(
    ("reply", "attempts", "error_class", "http_status"),
    [
        (error(400, "invalid_request_error"), 1, ClaudeBadRequestError, 400),
        (error(401, "authentication_error"), 2, ClaudeAuthenticationError, 502),
        (error(403, "permission_error"), 1, ClaudeBadRequestError, 400),
        (error(404, "not_found_error"), 1, ClaudeBadRequestError, 400),
        (error(413, "request_too_large"), 1, ClaudeBadRequestError, 400),
        (error(429, "rate_limit_error"), 5, ClaudeRateLimitedError, 429),
        (error(500, "api_error"), 2, ClaudeBusyError, 503),
        (error(503, "overloaded_error"), 2, ClaudeBusyError, 503),
        (error(529, "overloaded_error"), 2, ClaudeBusyError, 503),
        # A read timeout may have been billed without an answer: not retried unless the environment opts in.
        (raises(httpx2.ReadTimeout), 1, ClaudeTimeoutError, 504),
        (raises(httpx2.ConnectTimeout), 2, ClaudeTimeoutError, 504),
        (raises(httpx2.ConnectError), 2, ClaudeConnectionError, 502),
        (raises(httpx2.RemoteProtocolError), 1, ClaudeConnectionError, 502),
    ],
    ids=[
        "400",
        "401",
        "403",
        "404",
        "413",
        "429",
        "500",
        "503",
        "529",
        "read-timeout",
        "connect-timeout",
        "connection-refused",
        "connection-lost",
    ],
)
def test_each_failure_is_retried_as_the_policy_says_then_raised_typed(
    reply, attempts, error_class, http_status
):
    # Given an API that fails every request the same way
    harness = make_harness(settings=NO_FALLBACK)
    harness.api.queue(*[reply] * 10)

    # When a call is made
    with pytest.raises(error_class) as raised:
        harness.service.create(ask(), CTX)

    # Then it was attempted exactly as often as the policy allows, and the error says what to answer
    assert len(harness.api.requests) == attempts
    assert raised.value.http_status == http_status
    assert len(harness.sleeps) == attempts - 1
    assert [record.error_type is not None for record in harness.records] == [True]


def test_busy_error_is_friendly_for_users_and_detailed_in_the_log_record():
    harness = make_harness(settings=NO_FALLBACK)
    harness.api.queue(*[error(529, "overloaded_error", "Overloaded: cluster eu-7 shedding load")] * 2)

    with pytest.raises(ClaudeBusyError) as raised:
        harness.service.create(ask(), CTX)

    assert raised.value.user_message == "Claude is busy, please try again shortly"
    assert "eu-7" not in raised.value.user_message
    (record,) = harness.records
    assert record.error_type == "overloaded_error"
    assert "eu-7" in (record.error_detail or "")
    assert record.retries == 1


def test_bad_request_keeps_the_api_message_for_logs_and_is_not_retryable():
    harness = make_harness()
    harness.api.queue(error(400, "invalid_request_error", "messages.0.content: must not be empty"))

    with pytest.raises(ClaudeBadRequestError) as raised:
        harness.service.create(ask(), CTX)

    assert "must not be empty" in str(raised.value)
    assert raised.value.retryable is False
    assert raised.value.request_id == "req_err"


def test_rate_limit_then_success_counts_throttles_and_retries():
    harness = make_harness()
    harness.api.queue(error(429, "rate_limit_error"), error(429, "rate_limit_error"), message("Finally"))

    result = harness.service.create(ask(), CTX)

    assert result.text == "Finally"
    assert result.retries == 2
    (record,) = harness.records
    assert (record.throttles, record.retries, record.error_type) == (2, 2, None)


def test_backoff_without_retry_after_is_full_jitter_within_the_doubling_window():
    # Given a seeded random source and an API that rate-limits without saying how long to wait
    harness = make_harness(settings=NO_FALLBACK, seed=11)
    harness.api.queue(*[error(429, "rate_limit_error")] * 5)

    with pytest.raises(ClaudeRateLimitedError):
        harness.service.create(ask(), CTX)

    # Then each wait is drawn from [0, 1], [0, 2], [0, 4], [0, 8] s, exactly as the seed dictates
    windows = [1, 2, 4, 8]
    assert all(0 <= sleep <= window for sleep, window in zip(harness.sleeps, windows, strict=True))
    rng = random.Random(11)
    assert harness.sleeps == [rng.uniform(0, window) for window in windows]


@pytest.mark.parametrize("attempt", range(1, 9))
def test_full_jitter_stays_within_its_capped_window(attempt):
    wait = wait_full_jitter(multiplier=1, max=20, rng=random.Random(attempt))
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt

    draws = [wait(state) for _ in range(200)]

    assert min(draws) >= 0
    assert max(draws) <= min(20, 2 ** (attempt - 1))
    assert max(draws) > 0.5 * min(20, 2 ** (attempt - 1))  # the whole window is used, not a corner of it


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers_are_read_ms_first(headers, expected):
    assert retry_after_seconds(headers) == expected


def test_retry_after_is_honoured_instead_of_the_backoff():
    harness = make_harness()
    harness.api.queue(
        error(429, "rate_limit_error", retry_after="3"), error(429, "rate_limit_error", retry_after_ms="250")
    )

    harness.service.create(ask(), CTX)

    assert harness.sleeps == [3.0, 0.25]


def test_a_retry_after_longer_than_the_maximum_is_not_waited_for():
    harness = make_harness(settings=RuntimeSettings(retry_after_max_seconds=30))
    harness.api.queue(error(429, "rate_limit_error", retry_after="600"))

    with pytest.raises(ClaudeRateLimitedError):
        harness.service.create(ask(), CTX)

    assert harness.sleeps == []
    assert len(harness.api.requests) == 1


def test_no_sleep_ends_past_the_callers_deadline():
    # Given a Lambda with 2 s left and an API asking to wait 5 s
    harness = make_harness()
    harness.api.queue(error(429, "rate_limit_error", retry_after="5"))
    ctx = CallContext(route="batch", remaining_time_ms=lambda: 2_000)

    # When the call is made, Then the rate limit is raised at once instead of sleeping past the deadline
    with pytest.raises(ClaudeRateLimitedError):
        harness.service.create(ask(), ctx)
    assert harness.sleeps == []


def test_a_rotated_key_is_fetched_once_bypassing_the_cache_and_the_call_heals():
    # Given a key that was rotated: the cached one is refused, the secret now holds a new one
    keys = KeySource(keys=["sk-ant-placeholder-old", "sk-ant-placeholder-new"])
    harness = make_harness(keys=keys)
    harness.api.queue(error(401, "authentication_error"), message("Welcome back"))

    result = harness.service.create(ask(), CTX)

    assert result.text == "Welcome back"
    assert keys.forced == 1
    assert harness.sleeps == [0.0]
    sent = [request.headers["authorization"] for request in harness.api.requests]
    assert sent == ["Bearer sk-ant-placeholder-old", "Bearer sk-ant-placeholder-new"]
    # and later calls keep the new key without reading the secret again
    harness.service.create(ask(), CTX)
    assert harness.api.requests[-1].headers["authorization"] == "Bearer sk-ant-placeholder-new"
    assert keys.forced == 1


def test_the_api_key_never_reaches_errors_or_records():
    harness = make_harness(settings=NO_FALLBACK)
    harness.api.queue(*[error(401, "authentication_error")] * 2)

    with pytest.raises(ClaudeAuthenticationError) as raised:
        harness.service.create(ask(), CTX)

    assert "sk-ant" not in str(raised.value)
    assert "sk-ant" not in repr(harness.records[0].log_fields())


def test_fallback_model_gets_one_attempt_after_the_primary_stays_overloaded():
    harness = make_harness()
    harness.api.queue(error(529, "overloaded_error"), error(529, "overloaded_error"), message("From Haiku"))

    result = harness.service.create(ask(), CTX)

    assert [body["model"] for body in harness.api.bodies()] == [
        "claude-sonnet-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    ]
    assert (result.text, result.model, result.fallback_used) == ("From Haiku", "claude-haiku-5-5", True)
    (record,) = harness.records
    assert (record.model, record.requested_model, record.fallback_used) == (
        "claude-haiku-5-5",
        "claude-sonnet-5-5",
        True,
    )


def test_fallback_failure_is_raised_once_and_recorded_against_the_fallback_model():
    harness = make_harness()
    harness.api.queue(*[error(529, "overloaded_error")] * 3)

    with pytest.raises(ClaudeBusyError):
        harness.service.create(ask(), CTX)

    assert len(harness.api.requests) == 3
    assert harness.records[0].model == "claude-haiku-5-5"


def test_rate_limits_do_not_trigger_the_fallback():
    harness = make_harness()
    harness.api.queue(*[error(429, "rate_limit_error")] * 5)

    with pytest.raises(ClaudeRateLimitedError):
        harness.service.create(ask(), CTX)

    assert {body["model"] for body in harness.api.bodies()} == {"claude-sonnet-5-5"}


def test_x_should_retry_false_is_never_retried_and_true_is_retried_even_on_a_4xx():
    # Given a 529 the API says not to retry, and a 409 it says to retry
    harness = make_harness(settings=NO_FALLBACK)
    harness.api.queue(error(529, "overloaded_error", x_should_retry="false"))
    with pytest.raises(ClaudeBusyError):
        harness.service.create(ask(), CTX)
    assert len(harness.api.requests) == 1

    harness = make_harness(settings=NO_FALLBACK)
    harness.api.queue(error(409, "conflict_error", x_should_retry="true"), message("after the conflict"))
    assert harness.service.create(ask(), CTX).text == "after the conflict"
    assert len(harness.api.requests) == 2


def test_an_ambiguous_attempt_is_counted_charged_and_retried_only_when_opted_in():
    # Given a whole message whose first attempt times out while reading, and an environment that opts in
    harness = make_harness(settings=NO_FALLBACK, retry_ambiguous=True)
    harness.api.queue(raises(httpx2.ReadTimeout), message("second time lucky"))

    # When the call is made
    result = harness.service.create(ask(), CTX)

    # Then it was retried, and the record counts the ambiguous attempt and charges its worst case apart
    assert result.text == "second time lucky"
    (record,) = harness.records
    assert (record.ambiguous_attempts, record.billed_attempts) == (1, 1)
    assert record.possibly_billed_usd > (record.cost_usd or 0) > 0
    assert result.ambiguous_attempts == 1


def test_an_ambiguous_failure_carries_its_count_to_the_caller():
    harness = make_harness(settings=NO_FALLBACK)
    harness.api.queue(raises(httpx2.ReadTimeout))
    with pytest.raises(ClaudeTimeoutError) as raised:
        harness.service.create(ask(), CTX)
    assert raised.value.ambiguous_attempts == 1
    assert harness.records[0].possibly_billed_usd > 0


def test_a_throttled_calls_record_shows_the_headroom_its_last_429_reported():
    # Given an API that rate-limits every attempt and says how much of the window is left
    harness = make_harness(settings=NO_FALLBACK)
    headroom = {"anthropic_ratelimit_requests_remaining": "0", "anthropic_ratelimit_tokens_remaining": "1234"}
    harness.api.queue(*[error(429, "rate_limit_error", **headroom)] * 5)

    with pytest.raises(ClaudeRateLimitedError):
        harness.service.create(ask(), CTX)

    # Then the failed call's record carries those figures, not "unknown"
    (record,) = harness.records
    assert (record.ratelimit_requests_remaining, record.ratelimit_tokens_remaining) == (0, 1234)


def test_the_policy_takes_every_limit_from_the_settings():
    settings = RuntimeSettings(
        rate_limit_max_attempts=7,
        retry_base_seconds=0.25,
        retry_max_backoff_seconds=9.0,
        retry_after_max_seconds=45.0,
        retry_ambiguous=True,
    )

    policy = RetryPolicy.from_settings(settings)

    assert (
        policy.max_attempts,
        policy.base_seconds,
        policy.max_backoff_seconds,
        policy.retry_after_max_seconds,
        policy.retry_ambiguous,
    ) == (7, 0.25, 9.0, 45.0, True)


def test_a_retry_after_of_exactly_the_maximum_is_waited_for():
    harness = make_harness(settings=RuntimeSettings(retry_after_max_seconds=30))
    harness.api.queue(error(429, "rate_limit_error", retry_after="30"), message("after the wait"))

    assert harness.service.create(ask(), CTX).text == "after the wait"
    assert harness.sleeps == [30.0]


def test_a_sleep_that_would_end_exactly_at_the_deadline_is_not_taken():
    # Given a Lambda with 5 s left and an API asking to wait exactly 5 s
    harness = make_harness()
    harness.api.queue(error(429, "rate_limit_error", retry_after="5"), message("too late"))
    ctx = CallContext(route="batch", remaining_time_ms=lambda: 5_000)

    # Then there is no time left to answer after it: the rate limit is raised without sleeping
    with pytest.raises(ClaudeRateLimitedError):
        harness.service.create(ask(), ctx)
    assert harness.sleeps == []


def test_the_backoff_window_scales_with_the_base_seconds():
    # Given a base of 0.25 s: windows of 0.25, 0.5, 1 and 2 s
    harness = make_harness(settings=RuntimeSettings(fallback_model=None, retry_base_seconds=0.25), seed=5)
    harness.api.queue(*[error(429, "rate_limit_error")] * 5)

    with pytest.raises(ClaudeRateLimitedError):
        harness.service.create(ask(), CTX)

    rng = random.Random(5)
    assert harness.sleeps == [rng.uniform(0, window) for window in (0.25, 0.5, 1, 2)]
