"""The sessions table, in moto's in-process DynamoDB, for the store and app tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.chat import create_sessions_table


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_sessions_table(dynamodb.meta.client, "sessions")
        yield dynamodb.Table("sessions")
