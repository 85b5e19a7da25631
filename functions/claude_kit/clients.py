"""The container's Anthropic clients: built on first use, keyed from Secrets Manager, healed after a rotation.

The key comes from the environment's secret through Powertools Parameters (cached `secret_cache_ttl_seconds`),
is passed to the SDK explicitly and is never logged, exported to the environment or put in an error message.
The SDK's own retries are off (`max_retries=0`): `claude_kit.retry` is the only policy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache, partial
from typing import TYPE_CHECKING

from claude_kit.contract import Env
from claude_kit.errors import ClaudeAuthenticationError
from claude_kit.settings import RuntimeSettings, get_settings

if TYPE_CHECKING:
    import httpx2
    from anthropic import Anthropic, AsyncAnthropic

#: Returns the API key; `True` means bypass every cache (the key was just refused).
ApiKeySource = Callable[[bool], str]


def fetch_api_key(settings: RuntimeSettings, force: bool = False) -> str:
    from aws_lambda_powertools.utilities import parameters  # boto3 is loaded only when a key is needed

    name = settings.api_key_secret_name
    if not name:
        raise ClaudeAuthenticationError(f"{Env.API_KEY_SECRET_NAME} is not set: no Anthropic API key to use")
    try:
        value = parameters.get_secret(name, max_age=settings.secret_cache_ttl_seconds, force_fetch=force)
    except parameters.exceptions.GetParameterError as exc:
        raise ClaudeAuthenticationError(f"Could not read the API key from secret {name!r}") from exc
    if not isinstance(value, str) or not value.strip():
        raise ClaudeAuthenticationError(f"Secret {name!r} does not hold an API key string")
    return value.strip()


class ClaudeClients:
    """One sync and one async client per container, sharing the key; `http_client`s are for tests.

    After a 401 the key is re-read bypassing every cache, but one refresh at a time per container, and not
    again within a backoff that doubles (from `refresh_backoff_seconds` up to `refresh_backoff_max_seconds`)
    while the secret still holds the refused key: a revoked key costs a handful of Secrets Manager reads, not
    one per failed request. A changed key resets the backoff.
    """

    def __init__(
        self,
        *,
        api_key: ApiKeySource,
        base_url: str | None = None,
        connect_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 60.0,
        stream_read_timeout_seconds: float = 120.0,
        http_client: httpx2.Client | None = None,
        async_http_client: httpx2.AsyncClient | None = None,
        refresh_backoff_seconds: float = 2.0,
        refresh_backoff_max_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api_key_source = api_key
        self._base_url = base_url
        self._connect_timeout = connect_timeout_seconds
        self._read_timeout = read_timeout_seconds
        self._stream_read_timeout = stream_read_timeout_seconds
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._refresh_backoff = (refresh_backoff_seconds, refresh_backoff_max_seconds)
        self._next_backoff = refresh_backoff_seconds
        self._no_refresh_before = float("-inf")
        self._clock = clock
        self._key: str | None = None
        self._sync: Anthropic | None = None
        self._async: AsyncAnthropic | None = None

    @classmethod
    def from_settings(cls, settings: RuntimeSettings) -> ClaudeClients:
        return cls(
            api_key=partial(fetch_api_key, settings),
            base_url=settings.claude_base_url,
            connect_timeout_seconds=settings.connect_timeout_seconds,
            read_timeout_seconds=settings.read_timeout_seconds,
            stream_read_timeout_seconds=settings.stream_read_timeout_seconds,
        )

    def sync_client(self) -> Anthropic:
        """For requests that return whole (create, count_tokens, batches): `read_timeout_seconds`."""
        with self._lock:
            if self._sync is None:
                from anthropic import Anthropic, Timeout

                self._sync = Anthropic(
                    api_key=self._current_key(),
                    base_url=self._base_url,
                    timeout=Timeout(self._read_timeout, connect=self._connect_timeout),
                    max_retries=0,
                    http_client=self._http_client,
                )
            return self._sync

    def async_client(self) -> AsyncAnthropic:
        """For streams: `stream_read_timeout_seconds` is the longest silence allowed between two events."""
        with self._lock:
            if self._async is None:
                from anthropic import AsyncAnthropic, Timeout

                self._async = AsyncAnthropic(
                    api_key=self._current_key(),
                    base_url=self._base_url,
                    timeout=Timeout(self._stream_read_timeout, connect=self._connect_timeout),
                    max_retries=0,
                    http_client=self._async_http_client,
                )
            return self._async

    async def aclose(self) -> None:
        """Close the async client's connections, which belong to the running event loop; the next stream
        builds a new client. Call it before the loop ends (app shutdown, or the end of an `asyncio.run`)."""
        with self._lock:
            client, self._async = self._async, None
        if client is not None:
            await client.close()

    def refresh_api_key(self) -> None:
        """Re-read the key bypassing caches after a 401; the clients move to it and keep their connections.

        Single flight: callers that got a 401 while a refresh was in flight wait for it and use its key; a
        caller within the backoff of the last refresh returns at once and retries with the current key.
        """
        with self._refresh_lock:
            now = self._clock()
            if now < self._no_refresh_before:
                return
            try:
                key = self._api_key_source(True)
            except BaseException:
                self._back_off(now)
                raise
            with self._lock:
                if key == self._key:
                    self._back_off(now)  # the secret still holds the refused key: revoked, not yet rotated
                    return
                self._key = key
                if self._sync is not None:
                    self._sync = self._sync.with_options(api_key=key)
                if self._async is not None:
                    self._async = self._async.with_options(api_key=key)
            # A new key: requests that failed with the old one meanwhile just retry, without another read.
            self._next_backoff = self._refresh_backoff[0]
            self._no_refresh_before = now + self._next_backoff

    def _back_off(self, now: float) -> None:
        self._no_refresh_before = now + self._next_backoff
        self._next_backoff = min(self._next_backoff * 2, self._refresh_backoff[1])

    def _current_key(self) -> str:
        if self._key is None:
            self._key = self._api_key_source(False)
        return self._key


@cache
def get_clients() -> ClaudeClients:
    """The production clients for this container (tests build their own `ClaudeClients`)."""
    return ClaudeClients.from_settings(get_settings())
