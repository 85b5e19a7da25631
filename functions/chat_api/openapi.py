"""The streaming half of `POST /chat` in the OpenAPI document: its events, named and typed.

FastAPI documents the JSON answer from `response_model`; the SSE events are described here the way FastAPI
documents its own SSE routes (OpenAPI 3.2 `itemSchema`), with the event payloads as component schemas.
The event name is in `event`, its JSON payload in `data`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from chat_api.models import DeltaEvent, DoneEvent, ErrorEvent, Limits, StartEvent

#: 3.2: the first version that can describe a stream's items (`itemSchema`), as FastAPI does for SSE.
OPENAPI_VERSION = "3.2.0"
EVENTS = (StartEvent, DeltaEvent, DoneEvent, ErrorEvent)
_REF = "#/components/schemas/{model}"

SSE_RESPONSE: dict[str, Any] = {
    "description": (
        "`stream: true`: server-sent events. One `start`, then `delta` events as Claude writes, then exactly "
        "one `done` (stop reason, usage, cost) or `error` (type, user-safe message); then the stream closes. "
        "`stream: false`: one JSON `ChatAnswer`."
    ),
    "content": {
        "text/event-stream": {
            "itemSchema": {
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string", "enum": [event.event for event in EVENTS]},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": {"oneOf": [{"$ref": _REF.format(model=e.__name__)} for e in EVENTS]},
                    },
                },
            }
        }
    },
}


def add_event_schemas(app: FastAPI, limits: Limits | None = None) -> None:
    """Generate the document as usual, plus the event payload schemas that `SSE_RESPONSE` refers to, and the
    deployment's `limits` (message length, max_tokens cap, allowed models) on the `ChatRequest` schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=OPENAPI_VERSION,
                description=app.description,
                routes=app.routes,
            )
            _, definitions = models_json_schema(
                [(event, "serialization") for event in EVENTS], ref_template=_REF
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(definitions["$defs"])
            if limits is not None and "ChatRequest" in schemas:
                limits.publish(schemas["ChatRequest"])
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
