"""Foreseeable failures of an operator command, each turned into one line that says what to do.

A person running `bin/kit` should never read a traceback for a missing file, missing credentials, a stack that
is not running or a resource that is not deployed: `explain` names the problem and the next step. Anything not
listed here is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class OperatorError(Exception):
    """A mistake or missing prerequisite the operator can fix; the message says how."""


#: AWS error codes of a resource that is not there (SQS queue, DynamoDB table, Lambda function, parameter).
_MISSING = {
    "AWS.SimpleQueueService.NonExistentQueue": "queue",
    "QueueDoesNotExist": "queue",
    "ResourceNotFoundException": "resource",
    "ParameterNotFound": "parameter",
    "NoSuchBucket": "bucket",
}
_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
}


def explain(exc: BaseException, *, env_name: str | None = None) -> str | None:
    """The one line for a foreseeable failure, or None for anything else."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    where = f" in environment {env_name!r}" if env_name else ""
    match exc:
        case OperatorError():
            return str(exc)
        case FileNotFoundError(filename=name):
            return f"file not found: {name}"
        case IsADirectoryError(filename=name):
            return f"{name} is a directory: give a file"
        case NoCredentialsError():
            return "no AWS credentials: run `aws configure` or `aws sso login`, or use --local"
        case NoRegionError():
            return "no AWS region: set AWS_REGION, or use --local"
        case EndpointConnectionError():
            return (
                f"cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}: if that is the local stack, "
                "start it again with `make local`"
            )
        case ClientError():
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            if code in _MISSING:
                return (
                    f"{_MISSING[code]} not found{where} ({message or code}): check the name and that the "
                    f"environment is deployed (`make deploy ENV=...`) or the local stack runs"
                )
            if code in _CREDENTIALS:
                return f"AWS refused your credentials ({code}): refresh them (`aws sso login`) and try again"
            if code in {"AccessDenied", "AccessDeniedException"}:
                return f"AWS denied this{where} ({message or code}): ask for the permission it names"
            return f"AWS error{where}: {code}: {message}"
    return None


def run_operator_command(command: Callable[[], int], *, env_name: Callable[[], str | None]) -> int:
    """Run `command`; a foreseeable failure prints one line on stderr and exits 1."""
    try:
        return command()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:
        line = explain(exc, env_name=env_name())
        if line is None:
            raise
        sys.stderr.write(f"error: {line}\n")
        return 1
