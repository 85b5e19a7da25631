"""Schemathesis against the chat API's own OpenAPI document: generated requests, valid and invalid, in-process
(ASGI), with the real SDK streaming from the fake Claude on 127.0.0.1 and the tables in moto.

Every answer must be one the document describes (status, content type, body schema, SSE items), no request may
end in a 5xx, and every invalid one is refused before anything reaches Claude. Examples are bounded: a few
seconds per operation, not minutes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from moto import mock_aws
from schemathesis import GenerationMode
from schemathesis.python import asgi

from batch_jobs import clients as batch_clients
from chat_api import lifecycle
from chat_api.app import create_app
from local.batch_queues import create_jobs_table
from local.chat import create_sessions_table
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer

USER = {"x-kit-user-id": "fuzz"}
SECRET_NAME = "claude-kit/fuzz/anthropic-api-key"
JOBS_TABLE = "claude-kit-fuzz-jobs"
#: Per operation and mode: schemathesis covers each field's boundaries first; bounded to seconds.
EXAMPLES = 10


@pytest.fixture
def app(fake_claude: FakeClaudeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app as a container builds it (production factories from `KIT_*` settings), on moto in-process."""
    environment = {
        "KIT_ENV_NAME": "fuzz",
        "KIT_CHAT_SESSIONS_TABLE": "sessions",
        "KIT_CHAT_LOCAL_MODE": "true",
        "KIT_CHAT_MESSAGE_MAX_CHARS": "200",
        "KIT_MAX_TOKENS_CAP": "64",
        "KIT_JOBS_TABLE": JOBS_TABLE,
        "KIT_API_KEY_SECRET_NAME": SECRET_NAME,
        "KIT_CLAUDE_BASE_URL": fake_claude.base_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_sessions_table(dynamodb, "sessions")
        create_jobs_table(dynamodb, JOBS_TABLE)
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=SECRET_NAME, SecretString=PLACEHOLDER_API_KEY
        )
        batch_clients.reset()
        application = create_app()
        yield application
        # The Claude connections belong to the event loop schemathesis runs the app on: close them there.
        with asgi.get_client(cast(Any, application)) as client:
            client.post(f"http://{asgi.HOST}{lifecycle.BEFORE_CHECKPOINT_PATH}")
        asgi.shutdown_lifespans()
        batch_clients.reset()


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value
)
def test_the_api_answers_as_its_document_says(
    app: Any, fake_claude: FakeClaudeServer, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    assert {operation.label for operation in operations} >= {"POST /chat", "GET /chat/{session_id}"}
    if mode is GenerationMode.NEGATIVE:  # an operation without inputs (GET /health) has no invalid request
        operations = [operation for operation in operations if list(operation.iter_parameters())]
    tried: Counter[str] = Counter()

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: Any) -> None:
            calls_before = len(fake_claude.message_calls())

            response = case.call_and_validate(headers=USER)

            tried[case.operation.label] += 1
            # A refused request never reached Claude
            if 400 <= response.status_code < 500:
                assert len(fake_claude.message_calls()) == calls_before, response.text

        answers_as_documented()

    assert set(tried) == {operation.label for operation in operations}
