"""The environment's server-side prompt, sampling parameters and default max_tokens reach Claude over the real
SDK, on every chat call, without the caller sending any of them."""

from __future__ import annotations

import json

import pytest

from chat_api.prompts import get_prompt_policy
from tests.fixtures.chat import ChatClient


def test_the_environments_prompt_and_params_are_sent_with_every_chat_call(
    chat: ChatClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an environment that sets a system prompt, a temperature, a stop sequence and a default max_tokens
    monkeypatch.setenv("KIT_CHAT_SYSTEM_PROMPT", "You are Acme's help desk.")
    monkeypatch.setenv("KIT_CHAT_PARAMS", json.dumps({"temperature": 0.2, "stop_sequences": ["END"]}))
    monkeypatch.setenv("KIT_CHAT_DEFAULT_MAX_TOKENS", "300")
    get_prompt_policy.cache_clear()

    # When a user sends a plain message
    response = chat.post(message="Hello", stream=False)

    # Then Claude got the environment's system prompt and parameters
    assert response.status_code == 200, response.text
    body = chat.fake.message_calls()[-1].body
    system = body["system"] if isinstance(body["system"], str) else body["system"][0]["text"]
    assert system == "You are Acme's help desk."
    assert (body["temperature"], body["stop_sequences"], body["max_tokens"]) == (0.2, ["END"], 300)
    get_prompt_policy.cache_clear()
