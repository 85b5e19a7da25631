"""Typed failures of a Claude call, each knowing what to tell the end user and which HTTP status to answer.

`str(error)` is the detail for logs (the API's own message, request id …); `user_message` is safe to show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from claude_kit.calls import ClaudeResult


class ClaudeError(Exception):
    error_type: str = "api_error"
    user_message: ClassVar[str] = "Claude could not answer right now, please try again"
    http_status: ClassVar[int] = 502
    #: True when the same request may succeed if tried again later (an SQS redelivery, a user's retry).
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str,
        *,
        error_type: str | None = None,
        partial: ClaudeResult | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(detail)
        if error_type is not None:
            self.error_type = error_type
        #: What the call consumed before failing (an interrupted stream's text and usage), if anything.
        self.partial = partial
        #: Anthropic's request id when a response was received.
        self.request_id = request_id
        #: Attempts of the failed call that may have been billed without an answer (claude_kit.billing).
        self.ambiguous_attempts = 0

    def response_headers(self) -> dict[str, str]:
        """HTTP headers an API answering with this error should send (e.g. `Retry-After`)."""
        return {}


class ClaudeBusyError(ClaudeError):
    error_type = "overloaded_error"
    user_message = "Claude is busy, please try again shortly"
    http_status = 503
    retryable = True


class ClaudeRateLimitedError(ClaudeError):
    error_type = "rate_limit_error"
    user_message = "Too many requests to Claude right now, please try again in a moment"
    http_status = 429
    retryable = True


class ClaudeBadRequestError(ClaudeError):
    error_type = "invalid_request_error"
    user_message = "Claude could not process this request"
    http_status = 400


class ClaudeAuthenticationError(ClaudeError):
    """The API key was refused even after re-reading the secret: a deployment problem, not the caller's."""

    error_type = "authentication_error"
    user_message = "Claude is not available right now"
    http_status = 502


class ClaudeTimeoutError(ClaudeError):
    error_type = "timeout_error"
    user_message = "Claude took too long to answer, please try again"
    http_status = 504
    retryable = True


class ClaudeConnectionError(ClaudeError):
    error_type = "connection_error"
    user_message = "Could not reach Claude, please try again shortly"
    http_status = 502
    retryable = True


class ClaudeStreamInterruptedError(ClaudeError):
    """The stream failed after text was handed on; `partial` holds that text and its usage."""

    error_type = "stream_interrupted"
    user_message = "The answer was interrupted, please try again"
    http_status = 502
    retryable = True


class SpendGuardClosedError(ClaudeError):
    """The spend guard has stopped Claude calls until the budget period resets or an operator reopens it.

    `reason` is the switch's reason code (claude_kit.spend_reasons) when the raiser knows it; the chat API
    words its 503 from it.
    """

    error_type = "spend_guard_closed"
    user_message = "The service is paused by its spend guard"
    http_status = 503

    def __init__(self, detail: str, *, reason: str = "", closed_by: str | None = None) -> None:
        super().__init__(detail)
        #: Why and by whom the switch was closed, as the spend guard wrote them into the switch.
        self.reason = reason
        self.closed_by = closed_by


class QuotaExceededError(ClaudeError):
    error_type = "quota_exceeded"
    user_message = "You have used your allowance for today"
    http_status = 429
