"""The operator CLI sends the guard function one command, as the operator's identity, and shows the answer."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
from botocore.response import StreamingBody
from botocore.stub import Stubber

from ops import kit
from ops.guard_cli import run
from ops.target import Target

IDENTITY = "arn:aws:sts::123456789012:assumed-role/Ops/alice"


def main(argv, **clients) -> int:
    args = kit._parser().parse_args(["spend-guard", *argv])
    args.target = Target("dev", local=False, description="dev")
    return run(args, **clients)


def clients(expected_payload: dict[str, Any], answer: dict[str, Any], *, function_error: bool = False):
    lambda_client = boto3.client("lambda", region_name="us-east-1")
    sts = boto3.client("sts", region_name="us-east-1")
    body = json.dumps(answer).encode()
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        response["FunctionError"] = "Unhandled"
    lambda_stub, sts_stub = Stubber(lambda_client), Stubber(sts)
    sts_stub.add_response(
        "get_caller_identity", {"UserId": "AROAEXAMPLE:alice", "Account": "123456789012", "Arn": IDENTITY}
    )
    lambda_stub.add_response(
        "invoke",
        response,
        {
            "FunctionName": "claude-kit-dev-spend-guard",
            "Payload": json.dumps(expected_payload, separators=(",", ":")).encode(),
        },
    )
    lambda_stub.activate()
    sts_stub.activate()
    return lambda_client, sts


def test_reopen_invokes_the_environments_guard_with_the_operator_identity(capsys) -> None:
    # Given the dev environment's guard function
    answer = {"outcomes": [{"action": "reopened", "detail": "budget raised"}]}
    expected = {
        "action": "reopen",
        "reason": "budget raised",
        "cause": "operator",
        "requested_by": f"cli:{IDENTITY}",
        "rearm_alarms": True,
    }
    lambda_client, sts = clients(expected, answer)
    # When an operator reopens with re-arming
    code = main(
        ["reopen", "--env", "dev", "--reason", "budget raised", "--rearm", "--json"],
        lambda_client=lambda_client,
        sts_client=sts,
    )
    # Then the function got exactly that command (the stub checks it) and its answer is shown
    assert code == 0
    assert json.loads(capsys.readouterr().out) == answer


def test_a_failing_guard_function_makes_the_command_fail(capsys) -> None:
    # Given a guard function that raises
    answer = {"errorMessage": "ParameterNotFound", "errorType": "ParameterNotFound"}
    expected = {
        "action": "status",
        "reason": "status",
        "cause": "operator",
        "requested_by": f"cli:{IDENTITY}",
        "rearm_alarms": False,
    }
    lambda_client, sts = clients(expected, answer, function_error=True)
    # When an operator asks for the status
    code = main(["status", "--env", "dev"], lambda_client=lambda_client, sts_client=sts)
    # Then the command exits non-zero and shows the error
    assert code == 1
    assert "ParameterNotFound" in capsys.readouterr().out


def test_an_environment_is_required(capsys) -> None:
    # Given no --env and no --local
    # When the command runs
    code = kit.main(["spend-guard", "reopen"])
    # Then it is refused in one line that says how to choose, before anything is invoked
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "error: say which environment: --env NAME (deployed, as in cdk.json) "
        "or --local (the `make local` stack)"
    )
