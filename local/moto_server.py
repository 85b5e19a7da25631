"""moto on 127.0.0.1 for the local stack and the benchmarks, answering one AWS call at a time.

moto's threaded server runs calls concurrently, and its DynamoDB transactions are not thread-safe: two chat
turns at once (each a `TransactWriteItems`) can fail with a 500 that DynamoDB never gives. moto runs one call
at a time under the GIL anyway, so answering them in turn costs little and makes it behave as DynamoDB does.
The same interface as `moto.server.ThreadedMotoServer`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneCallAtATime:
    """WSGI middleware: the wrapped app answers one request at a time, its body produced under the lock."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


def moto_app() -> WsgiApp:
    """moto's whole AWS, as one WSGI app, answering one call at a time."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return OneCallAtATime(DomainDispatcherApplication(create_backend_app))


class SerialMotoServer:
    """moto served on `ip_address:port` (0: a free port) from a background thread; `wrap` wraps its app."""

    def __init__(
        self,
        ip_address: str = "127.0.0.1",
        port: int = 0,
        *,
        wrap: Callable[[WsgiApp], WsgiApp] | None = None,
    ) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        app = moto_app()
        self._server = make_server(
            ip_address, port, wrap(app) if wrap else app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
