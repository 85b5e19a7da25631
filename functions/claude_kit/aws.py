"""The container's AWS clients and DynamoDB tables: built once, on first use, with one retry policy.

boto3 honours `AWS_ENDPOINT_URL`, which is how the same code reaches moto locally and AWS when deployed. It is
imported on first use, so a function that never calls AWS does not load it. Tests (and the SnapStart hooks,
and a CLI switching environments) call `reset()` so the next call builds clients from the current environment.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config


#: For calls a user waits on (sessions, quota, spend switch): fail fast rather than hold the first token
#: behind botocore's 60 s timeouts × 5 attempts. Two attempts ride out one throttle or dropped connection.
REQUEST_PATH: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 2.0, "max_attempts": 2}


def _config(connect_timeout: float, read_timeout: float, max_attempts: int) -> Config:
    from botocore.config import Config

    # Standard mode retries throttling and transient errors with backoff, on every AWS call the kit makes.
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # attempts in all, first included
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )


@cache
def aws_client(
    service: str, *, connect_timeout: float = 60.0, read_timeout: float = 60.0, max_attempts: int = 5
) -> Any:
    """One client per service and settings; the defaults are botocore's timeouts."""
    import boto3

    return boto3.client(service, config=_config(connect_timeout, read_timeout, max_attempts))


@cache
def dynamodb_table(
    name: str, *, connect_timeout: float = 60.0, read_timeout: float = 60.0, max_attempts: int = 5
) -> Any:
    """A DynamoDB Table resource; request paths pass tighter timeouts than background work."""
    import boto3

    resource = boto3.resource("dynamodb", config=_config(connect_timeout, read_timeout, max_attempts))
    return resource.Table(name)


def reset() -> None:
    """Forget every client and table, so the next call reads the environment again."""
    aws_client.cache_clear()
    dynamodb_table.cache_clear()
