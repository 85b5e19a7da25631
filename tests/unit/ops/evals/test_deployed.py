"""The deployed chat endpoint comes from the stack's outputs; what cannot be read is one line saying why."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ops.evals.deployed import ChatEndpoint, DeployedLookupError, chat_endpoint

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/dev/chat"


@pytest.fixture
def aws():
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    apigateway = boto3.client("apigateway", region_name="us-east-1")
    with Stubber(cloudformation) as cfn, Stubber(apigateway) as apigw:
        yield cloudformation, apigateway, cfn, apigw


def stack(outputs: dict[str, str]) -> dict[str, object]:
    return {
        "Stacks": [
            {
                "StackName": "claude-kit-dev",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def test_the_url_and_key_come_from_the_stack_outputs(aws) -> None:
    cloudformation, apigateway, cfn, apigw = aws
    outputs = {"ChatApiChatUrl9F8E7D6C": URL, "ChatApiApiKeyId1A2B3C4D": "key-id-1"}
    cfn.add_response("describe_stacks", stack(outputs), {"StackName": "claude-kit-dev"})
    apigw.add_response(
        "get_api_key", {"id": "key-id-1", "value": "k" * 40}, {"apiKey": "key-id-1", "includeValue": True}
    )
    assert chat_endpoint("dev", cloudformation, apigateway) == ChatEndpoint(URL, "k" * 40)


def test_a_missing_stack_or_output_says_what_to_do(aws) -> None:
    cloudformation, apigateway, cfn, _ = aws
    cfn.add_client_error("describe_stacks", "ValidationError", "Stack with id claude-kit-dev does not exist")
    with pytest.raises(DeployedLookupError, match=r"cannot read stack claude-kit-dev \(ClientError\): check"):
        chat_endpoint("dev", cloudformation, apigateway)
    cfn.add_response("describe_stacks", stack({"OtherOutput": "x"}))
    with pytest.raises(
        DeployedLookupError, match="has no ChatUrl output: deploy it first, or pass --chat-url"
    ):
        chat_endpoint("dev", cloudformation, apigateway)
