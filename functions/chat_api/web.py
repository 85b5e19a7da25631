"""What a browser gets from the chat app: the chat page and the API docs, each behind its own switch.

Both are files in the function package, never a CDN: the page from `chat_api/static/`, Swagger UI from the
installed `swagger-ui-bundle-v2` package. Every URL they use is relative, so they work at `/` locally and
under the API Gateway stage path (`https://…/dev/`) deployed.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime.
import os
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Scope
from swagger_ui_bundle import swagger_ui_path

from chat_api.identity import API_KEY_HEADER, LOCAL_USER_HEADER
from chat_api.models import Limits

STATIC_DIR = Path(__file__).parent / "static"
#: Swagger UI's own files, as the installed package lays them out.
SWAGGER_UI_DIR = Path(str(swagger_ui_path))
#: The OpenAPI version the bundled Swagger UI renders (5.x: 3.0 and 3.1, not yet 3.2).
SWAGGER_UI_OPENAPI_VERSION = "3.1.0"


class RevalidatedFiles(StaticFiles):
    """Static files a browser checks again on every load (their ETag makes that cheap): a deploy or a package
    upgrade changes them under the same URL."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


class PageLimits(BaseModel):
    message_max_chars: int
    max_tokens_cap: int
    allowed_models: list[str]


class PageConfig(BaseModel):
    """What the page needs to know before the first message: how to identify the caller, and the limits."""

    identity: Literal["api_key", "local_user"]
    identity_header: str
    limits: PageLimits
    api_docs: bool


def install_chat_page(app: FastAPI, *, limits: Limits, local_mode: bool, api_docs: bool) -> None:
    """`GET /` (the page), `GET /ui/config.json` (its settings), `GET /ui/…` (its script and style)."""
    config = PageConfig(
        identity="local_user" if local_mode else "api_key",
        identity_header=LOCAL_USER_HEADER if local_mode else API_KEY_HEADER,
        limits=PageLimits(
            message_max_chars=limits.message_max_chars,
            max_tokens_cap=limits.max_tokens_cap,
            allowed_models=list(limits.allowed_models),
        ),
        api_docs=api_docs,
    )

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/ui/config.json", include_in_schema=False)
    async def page_config() -> PageConfig:
        return config

    app.mount("/ui", RevalidatedFiles(directory=STATIC_DIR), name="ui")


def install_api_docs(app: FastAPI) -> None:
    """`GET /docs`: Swagger UI from the installed package; its document at `/docs/openapi.json`."""

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="docs/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url="docs/assets/swagger-ui-bundle.js",
            swagger_css_url="docs/assets/swagger-ui.css",
            swagger_favicon_url="data:,",
            # No validator badge: it would send the document to a public validator.
            swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True},
        )

    @app.get("/docs/openapi.json", include_in_schema=False)
    async def docs_document() -> JSONResponse:
        return JSONResponse(swagger_ui_document(app.openapi()))

    app.mount("/docs/assets", RevalidatedFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")


def swagger_ui_document(document: dict[str, Any]) -> dict[str, Any]:
    """The document as the bundled Swagger UI can show it: labelled 3.1 (the one 3.2 keyword in it, a
    stream's `itemSchema`, is then shown as an unknown field), and with the API one level above
    `docs/openapi.json`, so "Try it out" calls the same stage the docs came from."""
    return {**document, "openapi": SWAGGER_UI_OPENAPI_VERSION, "servers": [{"url": ".."}]}
