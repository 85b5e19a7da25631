"""The fake's memory and the controls a test uses: faults, recorded requests, disconnects, key, clock, reset.

The HTTP app runs on the server's event-loop thread while a test drives it from its own thread, so every
read and write goes through one lock.
"""

from __future__ import annotations

import fnmatch
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.fake_claude.batches import Batch, BatchStore
from local.fake_claude.config import FakeClaudeConfig
from local.fake_claude.faults import BatchItemFault, CallFault, applies
from local.fake_claude.ledger import BilledCall, BilledTotals
from local.fake_claude.prompt_cache import PromptCache, prompt_blocks
from local.fake_claude.protocol import (
    ApiError,
    BatchRequestItem,
    CountTokensRequest,
    MessagesRequest,
    error_body,
)
from local.fake_claude.rate_limits import RateLimitWindow
from local.fake_claude.replies import (
    Reply,
    ServiceTier,
    compose_reply,
    deterministic_text,
    deterministic_thinking,
    new_id,
)
from local.fake_claude.scripted import scripted_text


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names; credentials redacted
    body: dict[str, Any]


class FakeClaude:
    """Everything the fake knows, and the knobs tests turn. `FakeClaudeServer` serves it over HTTP."""

    def __init__(
        self, config: FakeClaudeConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._initial_config = config or FakeClaudeConfig()
        self._clock = clock
        self._lock = threading.Condition()
        self._start_over()

    def _start_over(self) -> None:
        self._config = self._initial_config
        self._clock_offset = 0.0
        self._faults: list[CallFault] = []
        self._item_faults: list[BatchItemFault] = []
        self._requests: list[RecordedRequest] = []
        self._custom_ids: list[str] = []
        self._disconnects = 0
        self._cache = PromptCache(self._config.cache_min_tokens)
        self._batches = BatchStore(self._resolve_batch_item)
        self._rate_window = RateLimitWindow()
        self._ledger: list[BilledCall] = []

    # --- controls for tests and `make local` -------------------------------------------------------------

    def reset(self) -> None:
        """Back to the configuration given at construction, with no faults, requests, cache or batches."""
        with self._lock:
            self._start_over()

    def configure(self, **changes: Any) -> None:
        """Change configuration fields (validated) until the next `reset()`."""
        with self._lock:
            self._config = FakeClaudeConfig.model_validate({**self._config.model_dump(), **changes})
            self._cache.min_tokens = self._config.cache_min_tokens

    def set_api_key(self, api_key: str) -> None:
        self.configure(api_key=api_key)

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's time forward: batches finish, cache entries expire, rate-limit windows roll."""
        with self._lock:
            self._clock_offset += seconds

    def inject(self, *faults: CallFault | BatchItemFault) -> None:
        with self._lock:
            for fault in faults:
                if isinstance(fault, BatchItemFault):
                    self._item_faults.append(fault)
                else:
                    self._faults.append(fault)

    @property
    def config(self) -> FakeClaudeConfig:
        with self._lock:
            return self._config

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API request received, in order, including the ones answered with an error."""
        with self._lock:
            return list(self._requests)

    def message_calls(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    def batch_custom_ids(self) -> list[str]:
        """The custom_id of every request in every batch accepted, in submission order (repeats included)."""
        with self._lock:
            return list(self._custom_ids)

    def ledger(self) -> list[BilledCall]:
        """Everything billed so far, in order: the ground truth for the kit's money figures."""
        with self._lock:
            return list(self._ledger)

    def billed_totals(self) -> BilledTotals:
        return BilledTotals.of(self.ledger())

    @property
    def disconnects(self) -> int:
        """Calls whose client went away before the response was complete."""
        with self._lock:
            return self._disconnects

    def wait_for_disconnects(self, count: int, timeout: float = 5.0) -> bool:
        """The server notices a closed connection a moment after the client closes it: wait for that."""
        with self._lock:
            return self._lock.wait_for(lambda: self._disconnects >= count, timeout=timeout)

    # --- used by the HTTP app ------------------------------------------------------------------------------

    def now(self) -> float:
        with self._lock:
            return self._clock() + self._clock_offset

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def client_gone(self) -> None:
        with self._lock:
            self._disconnects += 1
            self._lock.notify_all()

    def authenticated(self, headers: Mapping[str, str]) -> bool:
        """SDK 2.x sends `Authorization: Bearer <key>`; older clients and curl users send `x-api-key`."""
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        offered = bearer if scheme.lower() == "bearer" else headers.get("x-api-key", "")
        return secrets.compare_digest(offered.encode(), self.config.api_key.encode())

    def admin_authenticated(self, headers: Mapping[str, str]) -> bool:
        """The Admin API takes its own key in `x-api-key`; the runtime key is refused there."""
        offered = headers.get("x-api-key", "")
        return secrets.compare_digest(offered.encode(), self.config.admin_api_key.encode())

    def check_model(self, model: str) -> None:
        if model not in self.config.models:
            raise ApiError(404, "not_found_error", f"model: {model}")

    def take_fault(self, *, stream: bool) -> CallFault | None:
        """The oldest queued fault that applies to this call, removed from the queue."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if applies(fault, stream=stream):
                    return self._faults.pop(index)
        return None

    def answer(self, request: MessagesRequest) -> Reply:
        """The reply to generate; the caller bills it (`bill`) as far as it got."""
        with self._lock:
            return self._reply(request, service_tier="standard")

    def bill(self, entry: BilledCall) -> None:
        with self._lock:
            self._ledger.append(entry)

    def count_tokens(self, request: CountTokensRequest) -> int:
        return sum(block.tokens for block in prompt_blocks(request))

    def rate_limit_headers(self, *, exhausted: bool = False) -> dict[str, str]:
        with self._lock:
            return self._rate_window.headers(self.now(), self._config, exhausted=exhausted)

    def create_batch(self, requests: Sequence[BatchRequestItem]) -> Batch:
        with self._lock:
            batch = self._batches.create(
                requests, now=self.now(), processing_delay_s=self._config.batch_processing_delay_s
            )
            self._custom_ids.extend(item.custom_id for item in requests)
            return batch

    def batch(self, batch_id: str) -> Batch:
        with self._lock:
            return self._batches.get(batch_id, now=self.now())

    def batch_page(self, *, limit: int, after_id: str | None, before_id: str | None) -> dict[str, Any]:
        with self._lock:
            return self._batches.page(now=self.now(), limit=limit, after_id=after_id, before_id=before_id)

    def cancel_batch(self, batch_id: str) -> Batch:
        with self._lock:
            return self._batches.cancel(batch_id, now=self.now())

    def delete_batch(self, batch_id: str) -> None:
        with self._lock:
            self._batches.delete(batch_id, now=self.now())

    def batch_results(self, batch_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return self._batches.results(batch_id, now=self.now())

    def _reply(self, request: MessagesRequest, *, service_tier: ServiceTier) -> Reply:
        now = self.now()
        cache = self._cache.use(request.model, prompt_blocks(request), now)
        reply = compose_reply(
            request,
            text=scripted_text(self._config.scripted_replies, request)
            or self._config.text
            or deterministic_text(request),
            cache=cache,
            service_tier=service_tier,
            thinking=self._thinking(request),
        )
        self._rate_window.record(
            now, requests=1, input_tokens=cache.total_input_tokens, output_tokens=reply.output_tokens
        )
        return reply

    def _thinking(self, request: MessagesRequest) -> str:
        thinking = request.thinking or {}
        if thinking.get("type") != "enabled":
            return ""
        budget = int(thinking.get("budget_tokens", 0))
        return deterministic_thinking(request, min(budget, self._config.thinking_tokens))

    def _resolve_batch_item(self, item: BatchRequestItem) -> dict[str, Any]:
        for fault in self._item_faults:
            if fnmatch.fnmatchcase(item.custom_id, fault.custom_id_pattern):
                if fault.result == "expired":
                    return {"type": "expired"}
                return _errored(fault.error_type, f"fake {fault.error_type} for {item.custom_id}")
        try:
            self.check_model(item.params.model)
        except ApiError as exc:
            return _errored(exc.error_type, exc.message)
        reply = self._reply(item.params, service_tier="batch")
        self._ledger.append(
            reply.billed(request_id=item.custom_id, at=self.now(), stream=False, outcome="complete")
        )
        return {"type": "succeeded", "message": reply.message()}


def _errored(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "errored", "error": error_body(error_type, message, new_id("req_"))}
