"""A deployed chat endpoint and its API key, from the environment's stack outputs (`ChatUrl`, `ApiKeyId`).

So `bin/kit eval --env dev --target chat` needs only AWS credentials; the key is read from API Gateway into
memory and sent as `x-api-key`, never printed or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claude_kit import contract


class DeployedLookupError(Exception):
    """The stack or one of its outputs could not be read; the message says what to do."""


@dataclass(frozen=True)
class ChatEndpoint:
    url: str
    api_key: str | None


def chat_endpoint(env: str, cloudformation: Any, apigateway: Any) -> ChatEndpoint:
    name = contract.stack_name(env)
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except Exception as exc:  # botocore's ClientError or NoCredentialsError: both mean "cannot read it"
        raise DeployedLookupError(
            f"cannot read stack {name} ({type(exc).__name__}): check your AWS credentials and region, "
            "or pass --chat-url"
        ) from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for stack in stacks for o in stack.get("Outputs", [])}
    # CDK prefixes an output's key with its construct's path (ChatApiChatUrl1A2B3C4D): match on the name.
    url = _output(outputs, "ChatUrl")
    if url is None:
        raise DeployedLookupError(f"stack {name} has no ChatUrl output: deploy it first, or pass --chat-url")
    key_id = _output(outputs, "ApiKeyId")
    api_key = None
    if key_id is not None:
        try:
            api_key = apigateway.get_api_key(apiKey=key_id, includeValue=True)["value"]
        except Exception as exc:
            raise DeployedLookupError(
                f"cannot read API key {key_id} ({type(exc).__name__}): set KIT_EVAL_API_KEY instead"
            ) from exc
    return ChatEndpoint(url, api_key)


def _output(outputs: dict[str, str], name: str) -> str | None:
    return next((value for key, value in sorted(outputs.items()) if name in key), None)
