"""What a failure is: its kind, its error type, its typed error, and whether it may have been billed."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from claude_kit.errors import (
    ClaudeBadRequestError,
    ClaudeBusyError,
    ClaudeConnectionError,
    ClaudeRateLimitedError,
    ClaudeTimeoutError,
)
from claude_kit.retry import IncompleteStreamError, error_type_of, is_ambiguous, to_claude_error

REQUEST = httpx2.Request("POST", "https://claude.test/v1/messages")


def status_error(status: int, error_type: str) -> anthropic.APIStatusError:
    response = httpx2.Response(status, request=REQUEST, json={"type": "error"})
    body = {"type": "error", "error": {"type": error_type, "message": "m"}}
    if status == 429:
        return anthropic.RateLimitError("rate limited", response=response, body=body)
    return anthropic.APIStatusError("failed", response=response, body=body)


def caused(exc: BaseException, cause: BaseException) -> BaseException:
    try:
        raise exc from cause
    except BaseException as raised:
        return raised


def test_the_apis_own_error_type_is_kept_and_unknown_failures_are_internal_errors() -> None:
    assert error_type_of(status_error(200, "overloaded_error")) == "overloaded_error"
    assert error_type_of(status_error(429, "rate_limit_error")) == "rate_limit_error"
    assert error_type_of(ClaudeBusyError("x", error_type="api_error")) == "api_error"
    assert error_type_of(httpx2.ReadTimeout("slow", request=REQUEST)) == "timeout_error"
    assert error_type_of(ValueError("not a Claude failure")) == "internal_error"


@pytest.mark.parametrize(
    ("exc", "error_class", "error_type"),
    [
        (status_error(200, "overloaded_error"), ClaudeBusyError, "overloaded_error"),
        (status_error(200, "rate_limit_error"), ClaudeRateLimitedError, "rate_limit_error"),
        (status_error(429, "rate_limit_error"), ClaudeRateLimitedError, "rate_limit_error"),
        (httpx2.ReadTimeout("slow", request=REQUEST), ClaudeTimeoutError, "timeout_error"),
        (httpx2.RemoteProtocolError("gone", request=REQUEST), ClaudeConnectionError, "connection_error"),
    ],
)
def test_each_failure_becomes_its_typed_error_with_the_detail_kept(exc, error_class, error_type) -> None:
    error = to_claude_error(exc)
    assert error is not None
    assert type(error) is error_class
    assert error.error_type == error_type
    assert str(error).startswith(f"{type(exc).__name__}: ")


def test_anything_else_is_not_turned_into_a_claude_error() -> None:
    assert to_claude_error(ValueError("a bug")) is None


def test_only_failures_that_may_have_reached_claude_without_an_answer_are_ambiguous() -> None:
    connection = anthropic.APIConnectionError(request=REQUEST)
    # A connection that never opened: not billed
    assert not is_ambiguous(caused(connection, httpx2.ConnectError("refused", request=REQUEST)))
    assert not is_ambiguous(caused(anthropic.APITimeoutError(request=REQUEST), httpx2.ConnectTimeout("t")))
    # The cause found through a chain of causes and contexts
    inner = caused(httpx2.ReadError("x", request=REQUEST), httpx2.ConnectError("refused", request=REQUEST))
    assert not is_ambiguous(caused(anthropic.APIConnectionError(request=REQUEST), inner))
    # A request sent, and no answer: maybe billed
    assert is_ambiguous(caused(anthropic.APITimeoutError(request=REQUEST), httpx2.ReadTimeout("slow")))
    assert is_ambiguous(caused(connection, httpx2.RemoteProtocolError("gone", request=REQUEST)))
    assert is_ambiguous(httpx2.ReadError("reset", request=REQUEST))
    assert is_ambiguous(IncompleteStreamError("closed early"))
    # An answer with an error status is never billed; other exceptions are not Claude's
    assert not is_ambiguous(status_error(529, "overloaded_error"))
    assert not is_ambiguous(ValueError("a bug"))


@pytest.mark.parametrize(
    ("exc", "error_class", "error_type"),
    [
        # the API's own type wins over the one the failure's kind would give (busy: overloaded_error)
        (status_error(200, "api_error"), ClaudeBusyError, "api_error"),
        # a 4xx the kit does not know keeps its type, although it is raised as a bad request
        (status_error(409, "conflict_error"), ClaudeBadRequestError, "conflict_error"),
        # an empty type is no type: the kind's own is used
        (status_error(200, ""), ClaudeBusyError, "overloaded_error"),
    ],
)
def test_the_typed_error_carries_the_apis_own_error_type(exc, error_class, error_type) -> None:
    assert error_type_of(exc) == error_type
    error = to_claude_error(exc)
    assert error is not None
    assert type(error) is error_class
    assert error.error_type == error_type
