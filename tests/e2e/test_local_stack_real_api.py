"""`make local` with ANTHROPIC_API_KEY set: the key goes into the local secret only, and no fake is started.

Its own module: it runs a stack of its own, and moto's state is per process (tests/fixtures/local_stack.py).
"""

from __future__ import annotations

import os

import boto3
import pytest

from local.stack import LocalStack, banner

KEY = "sk-ant-placeholder-standing-in-for-a-real-key"


def test_a_real_key_is_kept_in_the_secret_and_out_of_sight(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the user's shell holds a key
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    # When the stack runs with it, setting the functions' environment in this process
    with LocalStack(api_key=KEY, services=()) as stack:
        stored = boto3.client("secretsmanager").get_secret_value(SecretId=stack.secret_name)["SecretString"]
        environment_while_running = dict(os.environ)
        text = banner(stack)
    # Then the key is in the secret and nowhere the functions or the terminal could see it
    assert stored == KEY
    assert stack.uses_real_claude
    assert "fake Claude" not in stack.urls
    assert "KIT_CLAUDE_BASE_URL" not in environment_while_running
    assert "ANTHROPIC_API_KEY" not in environment_while_running
    assert environment_while_running["KIT_API_KEY_SECRET_NAME"] == stack.secret_name
    assert KEY not in text
    assert "the real API" in text
    # And the environment is as it was once the stack has stopped
    assert os.environ["ANTHROPIC_API_KEY"] == KEY
    assert "AWS_ENDPOINT_URL" not in os.environ
