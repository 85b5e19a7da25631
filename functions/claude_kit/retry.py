"""The kit's one retry policy for Claude calls (the SDK's own retries are off), built on tenacity.

| failure                                      | retried                                                 |
|----------------------------------------------|---------------------------------------------------------|
| 429 rate_limit_error (also mid-stream)       | to `max_attempts`, `retry-after` or full-jitter backoff |
| 500 / 503 / 529 overloaded (also mid-stream) | once                                                    |
| timeout (incl. 408, 504), connection error   | once                                                    |
| 401 authentication_error                     | once, right after re-reading the key                    |
| 400, 403, 404, 413 and every other 4xx       | never                                                   |
| ambiguous: may have been billed (see below)  | only where the environment opts in (`retry_ambiguous`)  |

The API's `x-should-retry` header overrides the table both ways, as the SDK's own retries do: `false` is
never retried, `true` is retried (within the same limits). An attempt is *ambiguous* when the request reached
Claude but no answer or usage came back: a read timeout or a connection lost after the request was sent,
before any stream event. Anthropic may have generated (and billed) it; sending it again may bill it twice.

No sleep ends past the caller's deadline (the Lambda's, or a chat's first-token deadline), and a `retry-after`
longer than `retry_after_max_seconds` is not waited for: the caller gets the error while it can still answer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, wait_exponential

from claude_kit.errors import (
    ClaudeAuthenticationError,
    ClaudeBadRequestError,
    ClaudeBusyError,
    ClaudeConnectionError,
    ClaudeError,
    ClaudeRateLimitedError,
    ClaudeTimeoutError,
)
from claude_kit.observability import logger

if TYPE_CHECKING:
    from claude_kit.settings import RuntimeSettings


class Failure(StrEnum):
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    AUTHENTICATION = "authentication"
    #: The request itself is wrong (or not allowed): sending it again cannot help.
    REJECTED = "rejected"


# A mid-stream `error` event arrives as a plain APIStatusError with status 200: only its body's type tells.
_FAILURE_BY_ERROR_TYPE = {
    "rate_limit_error": Failure.RATE_LIMITED,
    "overloaded_error": Failure.BUSY,
    "api_error": Failure.BUSY,
    "timeout_error": Failure.TIMEOUT,
    "authentication_error": Failure.AUTHENTICATION,
}
_RETRIED_ONCE = frozenset({Failure.BUSY, Failure.TIMEOUT, Failure.CONNECTION, Failure.AUTHENTICATION})
_ERROR_FOR_FAILURE: dict[Failure, type[ClaudeError]] = {
    Failure.RATE_LIMITED: ClaudeRateLimitedError,
    Failure.BUSY: ClaudeBusyError,
    Failure.TIMEOUT: ClaudeTimeoutError,
    Failure.CONNECTION: ClaudeConnectionError,
    Failure.AUTHENTICATION: ClaudeAuthenticationError,
    Failure.REJECTED: ClaudeBadRequestError,
}


class IncompleteStreamError(Exception):
    """The connection closed cleanly but before `message_stop`: the answer is cut short."""


def classify(exc: BaseException) -> Failure | None:
    """What kind of failure an SDK exception is, from its class (or body type); None for other exceptions."""
    import anthropic  # already loaded when the SDK raised; a local import keeps this module light
    import httpx2

    match exc:
        case anthropic.APITimeoutError() | anthropic.RequestTimeoutError() | anthropic.GatewayTimeoutError():
            return Failure.TIMEOUT
        case anthropic.APIConnectionError():
            return Failure.CONNECTION
        case anthropic.RateLimitError():
            return Failure.RATE_LIMITED
        case anthropic.AuthenticationError():
            return Failure.AUTHENTICATION
        case anthropic.InternalServerError():
            return Failure.BUSY
        case anthropic.APIStatusError() if exc.status_code < 400:
            return _FAILURE_BY_ERROR_TYPE.get(str(exc.type), Failure.BUSY)
        case anthropic.APIStatusError():
            return Failure.REJECTED
        # Raised unwrapped by the SDK when a stream's body breaks off after the response started.
        case httpx2.TimeoutException():
            return Failure.TIMEOUT
        case httpx2.TransportError() | IncompleteStreamError():
            return Failure.CONNECTION
    return None


def is_ambiguous(exc: BaseException) -> bool:
    """The request may have reached Claude and been billed although no answer came back.

    Not ambiguous: an HTTP error status (the API bills no error), a connection that never opened, a
    stream failing after `message_start` (its usage is known: the caller counts it)."""
    import anthropic
    import httpx2

    if isinstance(exc, anthropic.APIStatusError):
        return False
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError | IncompleteStreamError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout):
                return False
            cause = cause.__cause__ or cause.__context__
        return True
    return False


def server_says_retry(exc: BaseException) -> bool | None:
    """The `x-should-retry` header of a failed response: True, False, or None when absent."""
    response = getattr(exc, "response", None)
    value = response.headers.get("x-should-retry") if response is not None else None
    return {"true": True, "false": False}.get(value) if value is not None else None


def error_type_of(exc: BaseException) -> str:
    """The API's own error type when it sent one (`overloaded_error` …), else one named after the failure."""
    if isinstance(exc, ClaudeError):
        return exc.error_type
    api_type = getattr(exc, "type", None)
    if isinstance(api_type, str) and api_type:
        return api_type
    failure = classify(exc)
    return _ERROR_FOR_FAILURE[failure].error_type if failure is not None else "internal_error"


def to_claude_error(exc: BaseException) -> ClaudeError | None:
    """The typed error for an SDK failure (None for anything else); its detail keeps the API's message."""
    failure = classify(exc)
    if failure is None:
        return None
    return _ERROR_FOR_FAILURE[failure](
        f"{type(exc).__name__}: {exc}",
        error_type=error_type_of(exc),
        request_id=getattr(exc, "request_id", None),
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait: `retry-after-ms`, else `retry-after` in seconds (dates are ignored)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(float(headers[name]) * scale, 0.0)
        except (KeyError, ValueError):
            continue
    return None


class wait_full_jitter(wait_exponential):  # named like tenacity's own wait strategies
    """tenacity's `wait_random_exponential` (AWS "full jitter") with an injectable random source for tests."""

    def __init__(self, *, multiplier: float, max: float, rng: random.Random) -> None:
        super().__init__(multiplier=multiplier, max=max)
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.rng.uniform(0, super().__call__(retry_state))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 1.0
    max_backoff_seconds: float = 20.0
    retry_after_max_seconds: float = 60.0
    #: Retry attempts that may have been billed already (read timeouts on whole messages): off by default.
    retry_ambiguous: bool = False
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def from_settings(cls, settings: RuntimeSettings, **overrides: Any) -> RetryPolicy:
        return cls(
            max_attempts=settings.rate_limit_max_attempts,
            base_seconds=settings.retry_base_seconds,
            max_backoff_seconds=settings.retry_max_backoff_seconds,
            retry_after_max_seconds=settings.retry_after_max_seconds,
            retry_ambiguous=settings.retry_ambiguous,
            **overrides,
        )

    def retrying(self, attempts: Attempts) -> Retrying:
        return Retrying(sleep=self.sleep, **attempts.tenacity_options())

    def async_retrying(self, attempts: Attempts) -> AsyncRetrying:
        # The reservation's check may write to DynamoDB (a top-up): off the event loop, in a worker thread.
        return AsyncRetrying(
            sleep=self.async_sleep, **{**attempts.tenacity_options(), "stop": attempts.stop_async}
        )


class Attempts:
    """One call's retry state: failures by kind, retries made, 429s seen and the last response headers."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        remaining_seconds: Callable[[], float] | None = None,
        on_authentication_failure: Callable[[], None] = lambda: None,
        may_retry: Callable[[], bool] = lambda: True,
        is_ambiguous: Callable[[BaseException], bool] = is_ambiguous,
    ) -> None:
        self.policy = policy
        self.remaining_seconds = remaining_seconds
        self.on_authentication_failure = on_authentication_failure
        #: Consulted before each retry: False stops (the call's reservation cannot cover another attempt).
        self.may_retry = may_retry
        self.is_ambiguous = is_ambiguous
        self.failures: Counter[Failure] = Counter()
        self.retries = 0
        self.headers: Mapping[str, str] = {}
        self._backoff = wait_full_jitter(
            multiplier=policy.base_seconds, max=policy.max_backoff_seconds, rng=policy.rng
        )

    @property
    def throttles(self) -> int:
        return self.failures[Failure.RATE_LIMITED]

    def tenacity_options(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(self.retryable),
            "after": self._count,
            "wait": self._wait,
            "stop": self._stop,
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def retryable(self, exc: BaseException) -> bool:
        """Whether this failure may be tried again at all (limits and waits are `_stop`'s business)."""
        if (verdict := server_says_retry(exc)) is not None:
            return verdict
        if classify(exc) in (None, Failure.REJECTED):
            return False
        return self.policy.retry_ambiguous or not self.is_ambiguous(exc)

    def _count(self, state: RetryCallState) -> None:
        exc = _exception(state)
        self.failures[_failure(exc)] += 1
        response = getattr(exc, "response", None)
        if response is not None:
            self.headers = response.headers

    def _wait(self, state: RetryCallState) -> float:
        exc = _exception(state)
        if _failure(exc) is Failure.AUTHENTICATION:
            return 0.0
        response = getattr(exc, "response", None)
        retry_after = retry_after_seconds(response.headers) if response is not None else None
        return retry_after if retry_after is not None else self._backoff(state)

    def _stop(self, state: RetryCallState) -> bool:
        return self._limit_reached(state) or not self.may_retry()

    async def stop_async(self, state: RetryCallState) -> bool:
        """`_stop` for streams: `may_retry` (it may top the hold up in DynamoDB) runs in a worker thread."""
        from anyio.to_thread import run_sync

        return self._limit_reached(state) or not await run_sync(self.may_retry)

    def _limit_reached(self, state: RetryCallState) -> bool:
        failure = _failure(_exception(state))
        if state.attempt_number >= self.policy.max_attempts:
            return True
        if failure in _RETRIED_ONCE and self.failures[failure] > 1:
            return True
        if state.upcoming_sleep > self.policy.retry_after_max_seconds:
            return True
        return self.remaining_seconds is not None and state.upcoming_sleep >= self.remaining_seconds()

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = _exception(state)
        failure = _failure(exc)
        self.retries += 1
        logger.info(
            "Retrying Claude call",
            extra={
                "failure": failure.value,
                "attempt": state.attempt_number,
                "sleep_seconds": round(state.upcoming_sleep, 3),
                "api_request_id": getattr(exc, "request_id", None),
            },
        )
        if failure is Failure.AUTHENTICATION:
            self.on_authentication_failure()


def _exception(state: RetryCallState) -> BaseException:
    assert state.outcome is not None  # tenacity calls these hooks only after a failed attempt
    exc = state.outcome.exception()
    assert exc is not None
    return exc


def _failure(exc: BaseException) -> Failure:
    return classify(exc) or Failure.REJECTED
