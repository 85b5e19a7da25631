"""Every error the chat API answers with, mapped to a status and one JSON shape (`ErrorResponse`), here.

Validation problems are 422 with the offending fields named; Claude's errors carry their own status (503 busy
or spend guard closed, 429 rate limit or quota, 504 timeout …) and a message safe to show to the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from chat_api.errors import (
    ChatError,
    ConcurrentTurnError,
    InvalidRequestError,
    SessionNotFoundError,
    UnauthenticatedError,
)
from chat_api.json_body import BodyError
from chat_api.models import ErrorInfo, ErrorResponse, FieldProblem
from claude_kit.errors import ClaudeError, SpendGuardClosedError
from claude_kit.observability import logger
from claude_kit.spend_reasons import paused_message

#: status, type, message for the chat app's own errors.
_CHAT_ERRORS: dict[type[ChatError], tuple[int, str, str]] = {
    UnauthenticatedError: (401, "unauthenticated", "This request carries no credentials"),
    SessionNotFoundError: (404, "session_not_found", "No such session"),
    ConcurrentTurnError: (409, "concurrent_turn", "Another message was added to this session; please resend"),
    InvalidRequestError: (422, "invalid_request", "The request is invalid"),
}

INTERNAL_ERROR_MESSAGE = "Something went wrong, please try again"

#: For the OpenAPI document: the error statuses each route can answer with.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not UTF-8 JSON (`error.fields` says why, as field `body`); nothing was sent to Claude",
    401: "No caller identity (API key / Cognito token missing)",
    404: "No such session for this caller",
    409: "Another message was added to the session at the same time",
    422: "Invalid request: `error.fields` names each offending field; nothing was sent to Claude",
    429: "Rate limited by Claude, or the caller's daily allowance is used up (`quota_exceeded`)",
    503: "Claude is overloaded, or the spend guard has paused the service (`spend_guard_closed`)",
    504: "Claude took too long to answer",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]} for status in statuses
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems: dict[str, str] = {}
        for error in exc.errors():
            problems.setdefault(_field_name(error["loc"]), _problem(error))
        return _response(422, "invalid_request", "The request is invalid", problems)

    @app.exception_handler(ChatError)
    async def chat_error(_: Request, exc: ChatError) -> JSONResponse:
        status, error_type, message = _CHAT_ERRORS[type(exc)]
        return _response(
            status, error_type, message, exc.problems if isinstance(exc, InvalidRequestError) else None
        )

    @app.exception_handler(ClaudeError)
    async def claude_error(_: Request, exc: ClaudeError) -> JSONResponse:
        logger.warning(
            "Claude call refused or failed", extra={"error_type": exc.error_type, "status": exc.http_status}
        )
        message = paused_message(exc.reason) if isinstance(exc, SpendGuardClosedError) else exc.user_message
        return _response(exc.http_status, exc.error_type, message, headers=exc.response_headers())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, BodyError):
            return _response(400, "invalid_body", "The request body could not be read", {"body": exc.problem})
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route matching the path; the caller needs all its methods.
            headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return _response(exc.status_code, "http_error", str(exc.detail), headers=headers or None)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, _exc: Exception) -> JSONResponse:
        # Starlette logs the exception after this response goes out; the caller sees no internals.
        return _response(500, "internal_error", INTERNAL_ERROR_MESSAGE)


def _response(
    status: int,
    error_type: str,
    message: str,
    problems: dict[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    fields = [FieldProblem(field=name, problem=problem) for name, problem in (problems or {}).items()]
    body = ErrorResponse(error=ErrorInfo(type=error_type, message=message, fields=fields))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field_name(location: tuple[int | str, ...]) -> str:
    """`("body", "message")` → `message`; `("path", "session_id")` → `session_id`; `("body",)` → `body`."""
    parts = [str(part) for part in location[1:]] or [str(part) for part in location]
    return ".".join(parts)


def _problem(error: Mapping[str, Any]) -> str:
    """Pydantic's message, with the reason a custom validator gave rather than its "Value error, " prefix."""
    message = str(error["msg"])
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", message.removeprefix("Value error, ")))
    if error["type"] in ("model_attributes_type", "dict_type") and len(error["loc"]) == 1:
        return "must be a JSON object (Content-Type: application/json)"
    return message


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)
