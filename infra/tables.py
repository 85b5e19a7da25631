"""THE one way the kit builds a DynamoDB table, so every table bills, expires and is kept the same way."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.retention import removal_policy

#: The epoch-seconds attribute DynamoDB's TTL deletes items by; every store in functions/ writes it.
EXPIRES_AT = "expires_at"


def string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def kit_table(
    scope: Construct,
    construct_id: str,
    *,
    config: EnvironmentConfig,
    partition_key: dynamodb.Attribute,
    sort_key: dynamodb.Attribute,
    point_in_time_recovery: bool = True,
    table_name: str | None = None,
    encryption: dynamodb.TableEncryptionV2 | None = None,
    global_secondary_indexes: Sequence[dynamodb.GlobalSecondaryIndexPropsV2] = (),
) -> dynamodb.TableV2:
    """An on-demand table whose items expire at `expires_at`, kept or destroyed with the environment.

    Point-in-time recovery is on unless the caller says its data is disposable (and acknowledges cdk-nag's
    AwsSolutions-DDB3 with the reason).
    """
    return dynamodb.TableV2(
        scope,
        construct_id,
        table_name=table_name,
        partition_key=partition_key,
        sort_key=sort_key,
        billing=dynamodb.Billing.on_demand(),
        time_to_live_attribute=EXPIRES_AT,
        encryption=encryption,
        global_secondary_indexes=list(global_secondary_indexes) or None,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=point_in_time_recovery
        ),
        removal_policy=removal_policy(config),
    )
