"""The fake served by uvicorn on 127.0.0.1 in a daemon thread: the real SDK reaches it over a real socket."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from local.fake_claude.app import create_app
from local.fake_claude.config import FakeClaudeConfig
from local.fake_claude.state import FakeClaude
from local.serving import BackgroundServer


class FakeClaudeServer(FakeClaude):
    """`with FakeClaudeServer(config) as fake: Anthropic(base_url=fake.base_url, api_key=config.api_key)`."""

    def __init__(
        self,
        config: FakeClaudeConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        access_log: bool = False,
    ) -> None:
        super().__init__(config, clock=clock)
        self._server = BackgroundServer(
            create_app(self), name="fake Claude", host=host, port=port, access_log=access_log
        )

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
