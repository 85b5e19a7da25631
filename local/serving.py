"""An ASGI app under uvicorn in a daemon thread on 127.0.0.1: how the local stack serves the fake and apps."""

from __future__ import annotations

import socket
import threading
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

_STARTUP_TIMEOUT_S = 30.0


class _Server(uvicorn.Server):
    """uvicorn that says when it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class BackgroundServer:
    """Start, serve until `stop()`. Port 0 picks a free port, known (`port`, `base_url`) once started."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: bool = False,
        lifespan: Literal["on", "off"] = "off",
    ) -> None:
        self._app = app
        self._lifespan: Literal["on", "off"] = lifespan
        self._name = name
        self._host = host
        self._port = port
        self._access_log = access_log
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self._name} server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> str:
        """Serve; returns the base URL once uvicorn listens."""
        # Binding here makes the port known before uvicorn starts, with no race for it.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            http="h11",
            lifespan=self._lifespan,
            log_config=None,
            log_level="info" if self._access_log else "warning",
            access_log=self._access_log,
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True)
        thread.start()
        if not server.ready.wait(_STARTUP_TIMEOUT_S):
            server.should_exit = True
            thread.join(_STARTUP_TIMEOUT_S)
            sock.close()
            raise RuntimeError(f"the {self._name} server did not start within {_STARTUP_TIMEOUT_S:g} s")
        self._server, self._thread = server, thread
        return self.base_url

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join()
        self._server = self._thread = None
