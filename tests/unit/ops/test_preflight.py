"""`make deploy` checks credentials before synthesizing, and says in one line what to provide."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber

from ops.errors import OperatorError
from ops.preflight import check_credentials, main

ARN = "arn:aws:sts::123456789012:assumed-role/Deployer/alice"


def _sts(account: str = "123456789012"):
    sts = boto3.client("sts", region_name="us-east-1")
    stub = Stubber(sts)
    stub.add_response("get_caller_identity", {"UserId": "AROA:alice", "Account": account, "Arn": ARN})
    stub.activate()
    return sts


def test_working_credentials_say_who_deploys_where() -> None:
    assert check_credentials("dev", sts=_sts()) == (
        f"deploying 'dev' to account 123456789012 in us-east-1 as {ARN}"
    )


def test_missing_credentials_are_one_line_saying_how_to_provide_them(capsys) -> None:
    class NoCredentials:
        def get_caller_identity(self):
            raise NoCredentialsError

    with pytest.raises(OperatorError, match=r"^no AWS credentials to deploy 'dev': run `aws configure`"):
        check_credentials("dev", sts=NoCredentials())


def test_an_unknown_environment_is_refused_before_aws_is_asked(capsys) -> None:
    assert main(["qa"]) == 1
    assert capsys.readouterr().err.startswith("make deploy: cdk.json: unknown environment 'qa'")
