"""What a browser gets from the app (Starlette's TestClient, in process): the chat page and the API docs
behind their switches, both from files in the package; the OpenAPI document's security schemes and limits;
CORS preflights that allow the identity header the page sends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from chat_api.app import create_app
from chat_api.settings import ChatSettings
from chat_api.web import STATIC_DIR, SWAGGER_UI_DIR
from claude_kit.settings import RuntimeSettings

LIMITS = RuntimeSettings(max_tokens_cap=1024, allowed_models=("claude-haiku-5-5",))
ORIGIN = "http://localhost:5173"


def client(**settings: object) -> TestClient:
    chat_settings = ChatSettings.model_validate({"sessions_table": "sessions", **settings})
    return TestClient(create_app(settings=chat_settings, runtime=LIMITS))


@pytest.mark.parametrize("path", ["/", "/ui/chat.js", "/ui/config.json", "/docs", "/docs/openapi.json"])
def test_the_page_and_the_docs_are_off_unless_switched_on(path: str) -> None:
    assert client().get(path).status_code == 404


@pytest.mark.parametrize(
    ("local_mode", "identity", "header"),
    [(True, "local_user", "x-kit-user-id"), (False, "api_key", "x-api-key")],
    ids=["local", "deployed"],
)
def test_the_page_is_the_packaged_files_and_its_settings_name_the_identity_header_and_the_limits(
    local_mode: bool, identity: str, header: str
) -> None:
    # Given the page switched on
    with client(web_page=True, local_mode=local_mode, message_max_chars=500) as http:
        # When a browser opens it
        page = http.get("/")
        script = http.get("/ui/chat.js")
        config = http.get("/ui/config.json").json()

    # Then it gets the files shipped in the package, which load nothing from elsewhere
    assert page.status_code == 200
    assert page.text == (STATIC_DIR / "index.html").read_text()
    # checked again on every load, so a deploy's new files are used at once
    assert page.headers["cache-control"] == script.headers["cache-control"] == "no-cache"
    assert script.text == (STATIC_DIR / "chat.js").read_text()
    for text in (page.text, script.text, (STATIC_DIR / "chat.css").read_text()):
        assert not re.search(r"(src|href)=\"(https?:)?//|fetch\(\"(https?:)?//|@import", text)
    # and the settings say which header identifies the caller, and the deployment's limits
    assert config == {
        "identity": identity,
        "identity_header": header,
        "limits": {"message_max_chars": 500, "max_tokens_cap": 1024, "allowed_models": ["claude-haiku-5-5"]},
        "api_docs": False,
    }


def test_swagger_ui_is_served_from_the_installed_package_with_relative_urls() -> None:
    # Given the docs switched on
    with client(api_docs=True) as http:
        # When a browser opens them
        page = http.get("/docs")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        fetched = {asset: http.get(f"/{asset}") for asset in assets if not asset.startswith("data:")}
        document = http.get("/docs/openapi.json").json()

    # Then every asset is a relative URL (it works under the API Gateway stage path): the package's bytes
    assert page.status_code == 200
    assert set(fetched) == {"docs/assets/swagger-ui.css", "docs/assets/swagger-ui-bundle.js"}
    for asset, response in fetched.items():
        assert response.status_code == 200, asset
        assert response.content == (SWAGGER_UI_DIR / Path(asset).name).read_bytes()
    assert "url: 'docs/openapi.json'" in page.text
    # and no validator badge, which would send the document out
    assert '"validatorUrl": null' in page.text
    # and the document is the app's, labelled with a version that Swagger UI renders, calling the same stage
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": ".."}]
    assert (
        document["paths"].keys()
        == create_app(settings=ChatSettings(sessions_table="sessions"), runtime=LIMITS)
        .openapi()["paths"]
        .keys()
    )


@pytest.mark.parametrize(
    ("local_mode", "scheme", "header"),
    [(True, "LocalUser", "x-kit-user-id"), (False, "ApiKey", "x-api-key")],
    ids=["local", "deployed"],
)
def test_the_document_says_how_to_authenticate_and_publishes_the_limits(
    local_mode: bool, scheme: str, header: str
) -> None:
    # Given the app's OpenAPI document
    document = client(local_mode=local_mode, message_max_chars=500).app.openapi()  # type: ignore[attr-defined]

    # Then it is valid, and every route that needs a caller names the one security scheme in force
    validate(document)
    schemes = document["components"]["securitySchemes"]
    assert schemes == {
        scheme: {
            "type": "apiKey",
            "in": "header",
            "name": header,
            "description": schemes[scheme]["description"],
        }
    }
    for path, method in [
        ("/chat", "post"),
        ("/chat/{session_id}", "get"),
        ("/chat/{session_id}", "delete"),
        ("/jobs/{job_id}", "get"),
    ]:
        assert document["paths"][path][method]["security"] == [{scheme: []}], path
    assert "security" not in document["paths"]["/health"]["get"]
    # and the request's limits are the deployment's
    fields = document["components"]["schemas"]["ChatRequest"]["properties"]
    assert fields["message"]["maxLength"] == 500
    assert fields["model"]["anyOf"][0]["enum"] == ["claude-haiku-5-5"]
    assert fields["max_tokens"]["anyOf"][0]["maximum"] == 1024


@pytest.mark.parametrize(
    ("local_mode", "header"), [(True, "x-kit-user-id"), (False, "x-api-key")], ids=["local", "deployed"]
)
def test_a_browser_preflight_from_an_allowed_origin_may_send_the_identity_header(
    local_mode: bool, header: str
) -> None:
    # Given an app that allows one other origin
    http = client(local_mode=local_mode, cors_allow_origins=[ORIGIN])

    # When a page on that origin asks whether it may POST JSON with its identity header
    preflight = http.options(
        "/chat",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": f"content-type,{header}",
        },
    )
    other = http.options(
        "/chat",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )

    # Then it may, and another origin may not
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert header in preflight.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400
