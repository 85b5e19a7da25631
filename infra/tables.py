"""THE one way the kit builds a DynamoDB table, so every table bills, expires and is kept the same way, with
the keys, indexes and TTL attribute of its claude_kit.contract definition (local/ builds from it too)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from claude_kit.contract import KeyAttribute, SecondaryIndex, TableDefinition
from infra.config import EnvironmentConfig
from infra.retention import removal_policy

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
_PROJECTIONS = {"ALL": dynamodb.ProjectionType.ALL, "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY}


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


def _index(index: SecondaryIndex) -> dynamodb.GlobalSecondaryIndexPropsV2:
    return dynamodb.GlobalSecondaryIndexPropsV2(
        index_name=index.name,
        partition_key=_attribute(index.partition_key),
        sort_key=None if index.sort_key is None else _attribute(index.sort_key),
        projection_type=_PROJECTIONS[index.projection],
    )


def kit_table(
    scope: Construct,
    construct_id: str,
    *,
    config: EnvironmentConfig,
    definition: TableDefinition,
    point_in_time_recovery: bool = True,
    table_name: str | None = None,
    encryption: dynamodb.TableEncryptionV2 | None = None,
) -> dynamodb.TableV2:
    """An on-demand table whose items expire at the definition's TTL attribute, kept or destroyed with the
    environment.

    Point-in-time recovery is on unless the caller says its data is disposable (and acknowledges cdk-nag's
    AwsSolutions-DDB3 with the reason).
    """
    return dynamodb.TableV2(
        scope,
        construct_id,
        table_name=table_name,
        partition_key=_attribute(definition.partition_key),
        sort_key=_attribute(definition.sort_key),
        billing=dynamodb.Billing.on_demand(),
        time_to_live_attribute=definition.ttl_attribute,
        encryption=encryption,
        global_secondary_indexes=[_index(index) for index in definition.indexes] or None,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=point_in_time_recovery
        ),
        removal_policy=removal_policy(config),
    )
