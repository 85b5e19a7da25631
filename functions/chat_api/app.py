"""The chat API's routes: validate, identify the caller, make one conversation call (errors: http_errors.py).

`create_app()` builds the ASGI app; `uvicorn --factory chat_api.app:create_app` serves it (`run.sh` in Lambda,
`make local` here). Nothing connects to AWS or Claude before the first request needs it.
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations at runtime, and they
# refer to dependencies local to `create_app`.
import importlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request, Response, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import APIKeyHeader
from fastapi.sse import format_sse_event
from starlette.background import BackgroundTask

from chat_api import lifecycle
from chat_api.conversation import Conversation, get_conversation
from chat_api.errors import InvalidRequestError
from chat_api.http_errors import INTERNAL_ERROR_MESSAGE, error_responses, install_error_handlers
from chat_api.identity import API_KEY_HEADER, LOCAL_USER_HEADER, Caller, identify
from chat_api.jobs_routes import jobs_router
from chat_api.json_body import StrictJsonRoute
from chat_api.keepalive import KeepAliveEventSourceResponse
from chat_api.models import (
    SESSION_ID_PATTERN,
    ChatAnswer,
    ChatEvent,
    ChatRequest,
    DeltaEvents,
    ErrorEvent,
    Health,
    Limits,
    SessionHistory,
    TurnOut,
)
from chat_api.openapi import SSE_RESPONSE, add_event_schemas
from chat_api.prompts import get_prompt_policy
from chat_api.settings import ChatSettings, get_chat_settings
from chat_api.web import install_api_docs, install_chat_page
from claude_kit import contract
from claude_kit.observability import logger
from claude_kit.settings import RuntimeSettings, get_settings

SessionIdPath = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="The session's id (UUID).")]

#: How a caller identifies itself, as the OpenAPI document (and so Swagger UI's "Authorize") shows it. The
#: app reads neither value: API Gateway checks the key; `identify` reads its verdict (locally, the header).
API_KEY_SCHEME = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKey",
    description="The environment's API key (the value of the key whose id is the stack output ApiKeyId).",
    auto_error=False,
)
LOCAL_USER_SCHEME = APIKeyHeader(
    name=LOCAL_USER_HEADER,
    scheme_name="LocalUser",
    description="`make local` only: any user name (letters, digits, `._@:+-`), standing in for the API key.",
    auto_error=False,
)


def create_app(
    *,
    settings: ChatSettings | None = None,
    runtime: RuntimeSettings | None = None,
    conversation: Callable[[], Conversation] = get_conversation,
) -> FastAPI:
    """The app; tests pass their own settings and conversation factory."""
    settings = settings or get_chat_settings()
    runtime = runtime or get_settings()
    limits = Limits(
        settings.message_max_chars,
        runtime.max_tokens_cap,
        runtime.allowed_models,
        caller_system=get_prompt_policy().allow_caller_system,
    )

    app = FastAPI(
        lifespan=_lifespan,
        title="Claude chat",
        version="1.0.0",
        description="Chat with Claude: answers stream as server-sent events. Errors share one JSON shape.",
        # Swagger UI is served from an installed package (chat_api/web.py), not FastAPI's CDN default.
        docs_url=None,
        redoc_url=None,
    )
    # Before any route is added: a body that cannot be read gets a 400 saying why.
    app.router.route_class = StrictJsonRoute
    install_error_handlers(app)
    add_event_schemas(app, limits)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=["GET", "POST", "DELETE"],
            # The identity header the callers send: the API key, or locally the user name.
            allow_headers=["Content-Type", "Authorization", "X-Api-Key"]
            + ([LOCAL_USER_HEADER] if settings.local_mode else []),
        )
    credential = LOCAL_USER_SCHEME if settings.local_mode else API_KEY_SCHEME

    def caller(request: Request, _credential: Annotated[str | None, Security(credential)]) -> Caller:
        return identify(request.headers, local_mode=settings.local_mode)

    CallerDep = Annotated[Caller, Depends(caller)]
    ConversationDep = Annotated[Conversation, Depends(conversation)]

    @app.post(
        "/chat",
        response_model=ChatAnswer,
        summary="Send a message; the answer streams back",
        responses={200: SSE_RESPONSE, **error_responses(400, 401, 404, 409, 422, 429, 503, 504)},
    )
    async def chat(body: ChatRequest, who: CallerDep, chats: ConversationDep) -> Any:
        """With `stream: true` (the default) the answer arrives as server-sent events `start`, `delta`… and
        `done` or `error`; with `stream: false` as one JSON `ChatAnswer`. Spend-guard and quota refusals, and
        every validation problem, are JSON errors before anything is sent to Claude.
        """
        if problems := limits.problems(body):
            raise InvalidRequestError(problems)
        exchange = await run_in_threadpool(chats.begin, body, user_id=who.user_id, request_id=who.request_id)
        if not body.stream:
            return await chats.answer(exchange)
        # The background task runs once the response is over, even if the client left before its first
        # byte (the stream body then never runs): the held allowance is given back unless it was settled.
        return KeepAliveEventSourceResponse(
            _sse(chats.stream(exchange)),
            keepalive_seconds=settings.keepalive_seconds,
            headers={"Cache-Control": "no-cache"},
            background=BackgroundTask(exchange.abandon),
        )

    @app.get(
        "/chat/{session_id}",
        response_model=SessionHistory,
        summary="A session's turns, oldest first",
        responses=error_responses(401, 404, 422),
    )
    async def history(session_id: SessionIdPath, who: CallerDep, chats: ConversationDep) -> SessionHistory:
        session = await run_in_threadpool(chats.history, session_id, user_id=who.user_id)
        turns = [TurnOut.model_validate(turn, from_attributes=True) for turn in session.turns]
        return SessionHistory(session_id=session.session_id, created_at=session.created_at, turns=turns)

    @app.delete(
        "/chat/{session_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Delete a session and all its turns",
        responses=error_responses(401, 404, 422),
    )
    async def delete(session_id: SessionIdPath, who: CallerDep, chats: ConversationDep) -> Response:
        await run_in_threadpool(chats.delete, session_id, user_id=who.user_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.get(
        contract.HEALTH_PATH,
        response_model=Health,
        summary="Liveness (the Lambda Web Adapter's readiness check)",
    )
    async def health() -> Health:
        return Health()

    @app.post(lifecycle.BEFORE_CHECKPOINT_PATH, include_in_schema=False)
    @app.post(lifecycle.AFTER_RESTORE_PATH, include_in_schema=False)
    async def snapstart_hook() -> Response:
        await lifecycle.release_per_environment_state()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    app.include_router(jobs_router(caller))
    if settings.web_page:
        install_chat_page(app, limits=limits, local_mode=settings.local_mode, api_docs=settings.api_docs)
    if settings.api_docs:
        install_api_docs(app)
    return app


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Import the Anthropic SDK (seconds) at startup: in Lambda that is the init phase the adapter waits
    through (and what SnapStart snapshots), not the first request; no key is read. Shutdown closes
    connections."""
    await run_in_threadpool(importlib.import_module, "anthropic")
    yield
    await lifecycle.release_per_environment_state()


async def _sse(events: AsyncGenerator[ChatEvent | DeltaEvents]) -> AsyncGenerator[bytes]:
    """Events as SSE frames, deltas that arrived together in one chunk; an unexpected failure still ends the
    stream with an `error` event."""
    try:
        async with aclosing(events):
            async for event in events:
                if isinstance(event, DeltaEvents):
                    yield event.frames()
                else:
                    yield format_sse_event(event=event.event, data_str=event.model_dump_json())
    except Exception:
        logger.exception("chat stream failed")
        failure = ErrorEvent(type="internal_error", message=INTERNAL_ERROR_MESSAGE, retryable=True)
        yield format_sse_event(event=failure.event, data_str=failure.model_dump_json())
