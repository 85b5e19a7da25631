"""Where a scenario's answer comes from: the kit's runtime core (`ClaudeService.create`) or a chat endpoint.

Both return an `Answer` or raise `CallFailedError`; the runner does not know which one it talks to.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from claude_kit.calls import CallContext, ClaudeRequest
from claude_kit.errors import ClaudeError
from claude_kit.service import ClaudeService
from ops.evals.checks import Answer
from ops.evals.golden import GoldenSet, Scenario

#: CallContext route of every eval call: the kit's telemetry tells evals apart from traffic by it.
EVAL_ROUTE = "eval"
JUDGE_ROUTE = "eval-judge"


@dataclass(frozen=True, slots=True)
class Prompt:
    """One scenario's request with the set's defaults applied; `model` None means the target's default."""

    messages: list[dict[str, Any]]
    system: str | None
    model: str | None
    max_tokens: int
    temperature: float | None

    @classmethod
    def of(cls, golden: GoldenSet, scenario: Scenario) -> Prompt:
        defaults = golden.defaults
        return cls(
            messages=scenario.messages(),
            system=scenario.system if scenario.system is not None else defaults.system,
            model=scenario.model or defaults.model,
            max_tokens=scenario.max_tokens or defaults.max_tokens,
            temperature=scenario.temperature,
        )

    def request(self, default_model: str) -> ClaudeRequest:
        return ClaudeRequest(
            model=self.model or default_model,
            max_tokens=self.max_tokens,
            messages=self.messages,
            system=self.system,
            params={} if self.temperature is None else {"temperature": self.temperature},
        )


class CallFailedError(Exception):
    """The target could not answer; `error_type` is the kit's (`overloaded_error`, `http_503` …)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


class Target(Protocol):
    name: str

    def answer(self, prompt: Prompt, request_id: str) -> Answer: ...


class CoreTarget:
    """The kit's runtime core, as a Lambda uses it: allowed models, caps, retries, fallback, pricing."""

    name = "core"

    def __init__(self, service: ClaudeService, default_model: str) -> None:
        self.service = service
        self.default_model = default_model

    def answer(self, prompt: Prompt, request_id: str) -> Answer:
        ctx = CallContext(route=EVAL_ROUTE, user_id="eval", request_id=request_id)
        try:
            result = self.service.create(prompt.request(self.default_model), ctx)
        except ClaudeError as exc:
            raise CallFailedError(exc.error_type, str(exc)) from exc
        return Answer(
            text=result.text,
            stop_reason=result.stop_reason,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=result.cost_usd,
            latency_ms=result.latency_ms,
            ttft_ms=result.ttft_ms,
        )


class ChatTarget:
    """A chat endpoint (`POST /chat`, streamed): what a user of the deployment gets, through API Gateway.

    The API key goes in `x-api-key`; `user_id` sets `x-kit-user-id`, which only a local stack honours.
    """

    name = "chat"

    def __init__(
        self, chat_url: str, *, api_key: str | None = None, user_id: str | None = None, timeout: float = 300
    ) -> None:
        import httpx2

        self.chat_url = chat_url
        headers = {"content-type": "application/json"}
        if api_key:
            headers["x-api-key"] = api_key
        if user_id:
            headers["x-kit-user-id"] = user_id
        self._http = httpx2.Client(headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def answer(self, prompt: Prompt, request_id: str) -> Answer:  # noqa: ARG002 - the API issues its own
        import httpx2

        if len(prompt.messages) != 1:
            raise CallFailedError(
                "unsupported", "the chat endpoint takes one message per call: use a prompt, or --target core"
            )
        body: dict[str, Any] = {"message": prompt.messages[0]["content"], "max_tokens": prompt.max_tokens}
        if prompt.system is not None:
            body["system"] = prompt.system
        if prompt.model is not None:
            body["model"] = prompt.model
        started = time.perf_counter()
        text: list[str] = []
        ttft_ms: float | None = None
        try:
            with self._http.sse(self.chat_url, method="POST", json=body) as source:
                if source.response.status_code != 200:
                    source.response.read()
                    raise CallFailedError(f"http_{source.response.status_code}", _error_text(source.response))
                for event in source:
                    data = json.loads(event.data)
                    if event.event == "delta":
                        ttft_ms = ttft_ms if ttft_ms is not None else (time.perf_counter() - started) * 1000
                        text.append(data["text"])
                    elif event.event == "error":
                        raise CallFailedError(data.get("type", "error"), data.get("message", ""))
                    elif event.event == "done":
                        usage = data.get("usage") or {}
                        return Answer(
                            text="".join(text),
                            stop_reason=data.get("stop_reason"),
                            input_tokens=int(usage.get("input_tokens", 0)),
                            output_tokens=int(usage.get("output_tokens", 0)),
                            cost_usd=data.get("cost_usd"),
                            latency_ms=(time.perf_counter() - started) * 1000,
                            ttft_ms=ttft_ms,
                        )
        except httpx2.HTTPError as exc:
            raise CallFailedError("connection_error", f"{type(exc).__name__}: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise CallFailedError(
                "invalid_event", f"the stream sent an event the chat API does not: {exc}"
            ) from exc
        raise CallFailedError("stream_interrupted", "the stream ended without a done event")


def _error_text(response: Any) -> str:
    try:
        error = response.json()["error"]
        return f"{error['type']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return str(response.text)[:200]
