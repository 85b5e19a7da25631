"""A chat exchange: history in, the user's turn stored, Claude's answer streamed out and stored as it ended.

Knows nothing of HTTP. Every answer gets a stored turn in the slot reserved for it, complete or `partial` (an
upstream failure, or the client going away mid-stream), so nothing the user saw or paid for is silently lost.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import anyio
from anyio.to_thread import run_sync
from botocore.exceptions import BotoCoreError, ClientError

from chat_api.errors import ChatError
from chat_api.models import (
    ChatAnswer,
    ChatEvent,
    ChatRequest,
    DeltaEvents,
    DoneEvent,
    ErrorEvent,
    StartEvent,
    Usage,
)
from chat_api.prompts import get_prompt_policy
from chat_api.sessions import Role, Session, SessionStore, StoredTurn, Turn, get_session_store
from chat_api.settings import DEFAULT_HISTORY_TURNS, get_chat_settings
from claude_kit.calls import CallContext, ClaudeRequest, ClaudeResult, StreamEnd, TextDelta
from claude_kit.errors import ClaudeError
from claude_kit.observability import logger
from claude_kit.recording import PreparedCall
from claude_kit.service import get_claude_service
from claude_kit.settings import RuntimeSettings, get_settings
from claude_kit.telemetry import CLIENT_DISCONNECTED
from claude_kit.transaction import Transaction

ROUTE = "chat"


class ClaudeStreamer(Protocol):
    """What a conversation needs of `claude_kit.service.ClaudeService`."""

    def prepare(
        self, request: ClaudeRequest, ctx: CallContext, *, transaction: Transaction | None = None
    ) -> PreparedCall: ...

    def stream_prepared(self, prepared: PreparedCall) -> AsyncGenerator[TextDelta | StreamEnd]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Exchange:
    """A user turn stored and an answer about to be asked for, its worst case held by `prepared`."""

    session: Session
    prepared: PreparedCall
    message_id: str
    answer_seq: int

    @property
    def request(self) -> ClaudeRequest:
        return self.prepared.request

    @property
    def ctx(self) -> CallContext:
        return self.prepared.ctx

    def abandon(self) -> None:
        """The exchange is over: a settlement the answer's write did not carry is written on its own, a hold
        for an answer never asked for (the client left before the stream started) is given back; a no-op
        once the settlement was written."""
        self.prepared.reservation.finish()


class Conversation:
    """The Claude service prepares the call (rules, spend switch, quota) before anything is stored, so a
    refusal is a plain error before the stream starts and nothing is stored for a call that never happens."""

    def __init__(
        self,
        store: SessionStore,
        claude: ClaudeStreamer,
        settings: RuntimeSettings,
        *,
        history_turns: int = DEFAULT_HISTORY_TURNS,
    ) -> None:
        self._store = store
        self._claude = claude
        self._settings = settings
        self._history_turns = history_turns

    def begin(self, body: ChatRequest, *, user_id: str, request_id: str | None = None) -> Exchange:
        """Load the session's recent turns, then write the user's turn, the session (when new) and the call's
        worst-case hold in one transaction; raises before Claude is called. The context window is the Claude
        service's job: the recent turns go in, it sends what fits."""
        ctx = CallContext(route=ROUTE, user_id=user_id, request_id=request_id)
        prompt = get_prompt_policy()  # the environment's system prompt and params (docs/customize.md)
        system = prompt.system_for(body)  # a caller's `system` where not allowed: 422 before anything
        session = (
            self._store.load_recent(body.session_id, user_id, turns=self._history_turns)
            if body.session_id
            else None
        )
        request = ClaudeRequest(
            model=body.model or self._settings.model,
            max_tokens=body.max_tokens or prompt.default_max_tokens or self._settings.max_tokens_cap,
            messages=[*history_messages(session.turns if session else ()), _user_message(body.message)],
            system=system,
            params=dict(prompt.params),
        )
        transaction = Transaction()
        # Refused here (spend switch, rules): nothing is held or stored. The hold joins the transaction.
        prepared = self._claude.prepare(request, ctx, transaction=transaction)
        turn = Turn(role=Role.USER, text=body.message, message_id=_new_id())
        try:
            if session is None:
                session, user_turn = self._store.start_into(transaction, user_id, turn)
            else:
                user_turn = self._store.append_into(transaction, session, turn)
            self._store.commit(transaction)  # a concurrent turn (409), the quota (429): nothing was written
        except BaseException:
            prepared.reservation.release()
            raise
        prepared.reservation.defer_settlement()  # written with the answer (`_store_answer`)
        return Exchange(session, prepared, message_id=_new_id(), answer_seq=user_turn.seq + 1)

    async def stream(self, exchange: Exchange) -> AsyncGenerator[ChatEvent | DeltaEvents]:
        """Start, deltas (in the batches they arrived in), then done or error. Closing this generator early
        closes the upstream stream too."""
        try:
            yield StartEvent(
                session_id=exchange.session.session_id,
                message_id=exchange.message_id,
                model=exchange.request.model,
            )
            async with aclosing(self._relay(exchange)) as relay:
                async for item in relay:
                    yield DeltaEvents(item) if isinstance(item, list) else _done_event(item)
        except ClaudeError as exc:
            yield ErrorEvent(type=exc.error_type, message=exc.user_message, retryable=exc.retryable)
        finally:
            await self._abandon(exchange)

    async def _abandon(self, exchange: Exchange) -> None:
        with anyio.CancelScope(shield=True):
            await run_sync(exchange.abandon)

    async def answer(self, exchange: Exchange) -> ChatAnswer:
        """The whole answer at once (`stream: false`): the same relay, collected, so storage matches."""
        try:
            async with aclosing(self._relay(exchange)) as relay:
                async for item in relay:
                    if isinstance(item, Turn):
                        session_id = exchange.session.session_id
                        return ChatAnswer(session_id=session_id, text=item.text, **_done_fields(item))
        finally:
            await self._abandon(exchange)
        raise RuntimeError("unreachable: the relay ends with the answer")

    async def aclose(self) -> None:
        """Close the connections to Claude; they belong to the running event loop."""
        await self._claude.aclose()

    def history(self, session_id: str, *, user_id: str) -> Session:
        return self._store.load(session_id, user_id)

    def delete(self, session_id: str, *, user_id: str) -> None:
        self._store.delete(session_id, user_id)

    async def _relay(self, exchange: Exchange) -> AsyncGenerator[list[str] | Turn]:
        """Each batch of text deltas, then the stored answer turn; a ClaudeError is raised once a partial is
        stored."""
        upstream = self._claude.stream_prepared(exchange.prepared)  # closing it closes the HTTP stream
        received: list[str] = []
        answer: Turn | None = None
        try:
            async for event in upstream:
                if isinstance(event, TextDelta):
                    received += event.texts
                    yield event.texts
                else:
                    answer = _answer_turn(exchange, event.result)
        except ClaudeError as exc:
            answer = _failed_turn(exchange, exc, "".join(received))
            raise
        finally:
            # Runs on success, on failure and when the client went away (cancellation or an early close):
            # shielded so the upstream stream is closed (the service records partial usage) and the answer is
            # stored before `done` / `error` goes out, or before the client is gone for good.
            with anyio.CancelScope(shield=True):
                await upstream.aclose()
                await run_sync(
                    self._store_answer, exchange, answer or _failed_turn(exchange, None, "".join(received))
                )
        if answer is None:
            raise RuntimeError("Claude stream ended without a result")
        yield answer

    def _store_answer(self, exchange: Exchange, turn: Turn) -> None:
        """The answer and the call's settlement in one transaction; the settlement alone if the answer cannot
        be stored (the reservation's `finish`)."""
        transaction = Transaction()
        self._store.answer_into(transaction, exchange.session, exchange.answer_seq, turn)
        exchange.prepared.reservation.settle_into(transaction)
        session_id = exchange.session.session_id
        try:
            self._store.commit(transaction)
        except ChatError:
            # The owner deleted the session mid-answer: there is nothing left to attach the answer to.
            logger.info("Answer not stored: the session is gone", extra={"session_id": session_id})
        except (BotoCoreError, ClientError):
            # The user has the whole answer already; the history will miss it, which is logged, not raised.
            logger.exception("Answer not stored: the sessions table failed", extra={"session_id": session_id})
        finally:
            exchange.abandon()


def history_messages(turns: Sequence[StoredTurn]) -> list[dict[str, Any]]:
    """Stored turns as Messages API messages: exchanges that produced no text at all are left out.

    A question whose answer failed before any text would otherwise be sent again next to its retry, and an
    empty assistant message is refused by the API. Partial answers with text stay: the user saw them.
    """
    answers = {turn.seq: turn.text for turn in turns if turn.role is Role.ASSISTANT and turn.text}
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if turn.role is Role.USER and (answer := answers.get(turn.seq + 1)):
            messages += [_user_message(turn.text), {"role": "assistant", "content": answer}]
    return messages


def _user_message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _new_id() -> str:
    return str(uuid.uuid4())


def _answer_turn(exchange: Exchange, result: ClaudeResult) -> Turn:
    return Turn(
        role=Role.ASSISTANT,
        text=result.text,
        message_id=exchange.message_id,
        partial=result.partial,
        model=result.model,
        stop_reason=result.stop_reason,
        usage=_usage(result),
        cost_usd=result.cost_usd,
    )


def _failed_turn(exchange: Exchange, error: ClaudeError | None, text: str) -> Turn:
    """What the user saw of an answer that did not finish; `error` is None when the client went away."""
    partial = error.partial if error is not None else None
    return Turn(
        role=Role.ASSISTANT,
        text=text,
        message_id=exchange.message_id,
        partial=True,
        model=partial.model if partial else exchange.request.model,
        error_type=error.error_type if error is not None else CLIENT_DISCONNECTED,
        usage=_usage(partial) if partial else {},
        cost_usd=partial.cost_usd if partial else None,
    )


def _usage(result: ClaudeResult) -> dict[str, int]:
    return {
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "cache_creation_input_tokens": result.usage.cache_creation_input_tokens,
        "cache_read_input_tokens": result.usage.cache_read_input_tokens,
    }


def _done_fields(turn: Turn) -> dict[str, Any]:
    return {
        "message_id": turn.message_id,
        "model": turn.model or "",
        "stop_reason": turn.stop_reason,
        "usage": Usage(**turn.usage),
        "cost_usd": turn.cost_usd,
    }


def _done_event(turn: Turn) -> DoneEvent:
    return DoneEvent(**_done_fields(turn))


@cache
def get_conversation() -> Conversation:
    """The container's conversation service; nothing is connected until the first request needs it."""
    return Conversation(
        get_session_store(),
        get_claude_service(),
        get_settings(),
        history_turns=get_chat_settings().history_turns,
    )
