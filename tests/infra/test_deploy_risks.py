"""Deploy facts the sources leave open, closed in the templates: the streaming invoke permission, and a
Scheduler role only this account's schedules can assume."""

from __future__ import annotations

import pytest

from tests.infra.conftest import SynthesizedEnvironment, resources

pytestmark = pytest.mark.slow


def test_api_gateway_may_invoke_the_chat_handler_with_a_response_stream(env: SynthesizedEnvironment) -> None:
    # Then a resource policy lets this API (any stage, method and path) call InvokeWithResponseStream
    permissions = [
        props
        for props in resources(env.template, "AWS::Lambda::Permission").values()
        if props["Action"] == "lambda:InvokeWithResponseStream"
    ]
    assert len(permissions) == 1
    (permission,) = permissions
    assert permission["Principal"] == "apigateway.amazonaws.com"
    source = permission["SourceArn"]["Fn::Join"][1]
    assert any(isinstance(part, dict) and "Ref" in part and "ChatApi" in part["Ref"] for part in source)
    assert source[-1] == "/*/*/*"
    # and beside the InvokeFunction grants the streaming integration makes per method
    assert any(
        props["Action"] == "lambda:InvokeFunction" and props["Principal"] == "apigateway.amazonaws.com"
        for props in resources(env.template, "AWS::Lambda::Permission").values()
    )


def test_the_poll_schedules_role_trusts_only_this_accounts_scheduler(env: SynthesizedEnvironment) -> None:
    env.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    }
                ]
            }
        },
    )
    # and no role trusts the scheduler without that condition
    for props in resources(env.template, "AWS::IAM::Role").values():
        for statement in props["AssumeRolePolicyDocument"]["Statement"]:
            if statement["Principal"].get("Service") == "scheduler.amazonaws.com":
                assert "aws:SourceAccount" in statement.get("Condition", {}).get("StringEquals", {})
