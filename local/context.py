"""What a capability plugs into the local stack with: a provisioning step and, if it runs code, a service.

Apart from `local.stack`, so capability modules (local/chat.py …) can import it while the stack imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import boto3

from claude_kit.contract import KeyAttribute, TableDefinition
from infra.config import EnvironmentConfig

#: Credentials moto accepts; nothing local can reach a real AWS account with them.
PLACEHOLDER_AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class LocalContext:
    """What a provisioning step needs: the environment's settings and AWS clients pointed at moto."""

    env_name: str
    config: EnvironmentConfig
    endpoint_url: str
    api_key: str

    def client(self, service: str) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=PLACEHOLDER_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=PLACEHOLDER_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=PLACEHOLDER_AWS_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=self.config.region,
        )
        return session.client(service, endpoint_url=self.endpoint_url)


def _key_schema(partition_key: KeyAttribute, sort_key: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition_key.name, "KeyType": "HASH"}]
    if sort_key is not None:
        schema.append({"AttributeName": sort_key.name, "KeyType": "RANGE"})
    return schema


def create_table(dynamodb: Any, name: str, definition: TableDefinition) -> None:
    """An on-demand table with the definition's keys, indexes and TTL attribute, as infra/tables.py builds
    every table of the kit from the same definition (`dynamodb` is a boto3 client)."""
    keys: list[KeyAttribute | None] = [definition.partition_key, definition.sort_key]
    for index in definition.indexes:
        keys += [index.partition_key, index.sort_key]
    types = {key.name: key.type for key in keys if key is not None}
    indexes = [
        {
            "IndexName": index.name,
            "KeySchema": _key_schema(index.partition_key, index.sort_key),
            "Projection": {"ProjectionType": index.projection},
        }
        for index in definition.indexes
    ]
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in types.items()],
        KeySchema=_key_schema(definition.partition_key, definition.sort_key),
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
    )
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
    )


#: Creates a capability's resources on moto; returns the environment variables the functions need for them.
Provisioner = Callable[[LocalContext], Mapping[str, str]]


class LocalService(Protocol):
    """A function run locally. `start` gets the functions' environment (already in os.environ too) and
    returns the URL to print, if it serves one."""

    name: str

    def start(self, env: Mapping[str, str]) -> str | None: ...

    def stop(self) -> None: ...
