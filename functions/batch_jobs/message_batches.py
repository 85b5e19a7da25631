"""The Message Batches API through the kit's Anthropic client and retry policy, failures as `ClaudeError`s.

A create that times out is ambiguous (the batch may exist): like every retry of a non-idempotent call, the
policy's single retry of a timeout can then submit twice. docs/batch.md discusses this window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from claude_kit.clients import ClaudeClients
from claude_kit.retry import Attempts, RetryPolicy, to_claude_error

if TYPE_CHECKING:
    from anthropic import Anthropic
    from anthropic.types.messages import MessageBatch

#: Message Batches API limits per batch.
MAX_BATCH_REQUESTS = 100_000
MAX_BATCH_BYTES = 256 * 1024 * 1024


class MessageBatches:
    def __init__(
        self,
        clients: ClaudeClients,
        policy: RetryPolicy,
        *,
        remaining_seconds: Callable[[], float] | None = None,
    ) -> None:
        self._clients = clients
        self._policy = policy
        self._remaining_seconds = remaining_seconds

    def create(self, requests: list[dict[str, Any]]) -> str:
        """Submit `{custom_id, params}` requests; returns the batch id."""
        batch = self._call(lambda client: client.messages.batches.create(requests=requests))  # type: ignore[arg-type]
        return batch.id

    def retrieve(self, batch_id: str) -> MessageBatch:
        return self._call(lambda client: client.messages.batches.retrieve(batch_id))

    def cancel(self, batch_id: str) -> MessageBatch:
        """Ask the API to stop a batch: its unprocessed requests end `canceled` (the spend guard's option)."""
        return self._call(lambda client: client.messages.batches.cancel(batch_id))

    def download_results(self, batch_id: str, into: IO[bytes]) -> None:
        """Copy an ended batch's results (JSONL, as the API wrote it) into `into`, never all in memory."""

        def download(client: Anthropic) -> None:
            into.seek(0)
            into.truncate()
            with client.messages.batches.with_streaming_response.results(batch_id) as response:
                for chunk in response.iter_bytes():
                    into.write(chunk)

        self._call(download)

    def _call[T](self, call: Callable[[Anthropic], T]) -> T:
        attempts = Attempts(
            self._policy,
            remaining_seconds=self._remaining_seconds,
            on_authentication_failure=self._clients.refresh_api_key,
        )
        try:
            return self._policy.retrying(attempts)(lambda: call(self._clients.sync_client()))
        except Exception as exc:
            error = to_claude_error(exc)
            if error is None:
                raise
            raise error from exc
