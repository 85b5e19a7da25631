"""Reading a JSON request body strictly, so that every unreadable body gets a 400 that says why.

FastAPI turns any body it cannot decode (invalid UTF-8, another charset, JSON nested too deep for the
parser) into a bare "There was an error parsing the body", and a JSON syntax error into a field named after a
character offset. The app's routes read bodies through `StrictJsonRequest` instead (FastAPI's documented
custom Request / APIRoute pattern), which raises `BodyError` naming the problem; http_errors.py answers it.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException


class BodyError(HTTPException):
    """The body cannot be read as a JSON document; `problem` says why, in words a caller can act on."""

    def __init__(self, problem: str) -> None:
        super().__init__(status_code=400, detail=problem)
        self.problem = problem


def parse_json_body(body: bytes, content_type: str | None) -> Any:
    """The body as JSON: UTF-8 only (RFC 8259 §8.1), nested no deeper than Python's parser can follow."""
    charset = _charset(content_type)
    if charset not in (None, "utf-8", "utf8"):
        raise BodyError(f"charset {charset!r} is not supported: send the body as UTF-8 JSON")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"is not valid UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BodyError(f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError as exc:  # the parser's own guard, long before the stack is at risk
        raise BodyError("is nested too deeply to be a chat request") from exc


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body(), self.headers.get("content-type"))
        return self._json


class StrictJsonRoute(APIRoute):
    """Routes whose JSON bodies are read by `parse_json_body` (set as the app's `router.route_class`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    message = email.message.Message()
    message["content-type"] = content_type
    charset = message.get_content_charset()
    return None if charset is None else charset.lower()
