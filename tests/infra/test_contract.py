"""The stack builds its tables and its functions' settings from claude_kit.contract, read back from the
synthesized template (the literal deployed names are pinned by each construct's own tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from claude_kit import contract
from tests.fixtures.tables import described_table
from tests.infra.conftest import SynthesizedEnvironment, resources


def test_every_table_has_the_keys_indexes_and_ttl_of_its_contract_definition(
    env: SynthesizedEnvironment,
) -> None:
    # Given the tables the stack's constructs made, each with the definition it was built from
    stack = env.stack
    built = {stack.chat.table: contract.SESSIONS_TABLE, stack.batch.table: contract.JOBS_TABLE}
    if stack.user_quota is not None:
        built[stack.user_quota.table] = contract.USER_QUOTA_TABLE
    expected = {env.logical_id(table): definition for table, definition in built.items()}
    # When each synthesized table is read back into a definition
    tables = resources(env.template, "AWS::DynamoDB::GlobalTable")
    synthesized = {
        logical_id: described_table(
            expected[logical_id].role if logical_id in expected else "?",
            properties,
            properties["TimeToLiveSpecification"]["AttributeName"],
        )
        for logical_id, properties in tables.items()
    }
    # Then there is no other table, and each one is exactly its definition
    assert synthesized == expected


def test_every_kit_variable_a_function_gets_is_a_contract_name(env: SynthesizedEnvironment) -> None:
    # Given every variable of every function of the stack
    functions = resources(env.template, "AWS::Lambda::Function").values()
    names = {name for props in functions for name in props.get("Environment", {}).get("Variables", {})}
    # When the kit's own are picked out
    kit_names = {name for name in names if name.startswith(contract.ENV_PREFIX)}
    # Then each is named by the contract (whose names the settings models read: tests/unit/claude_kit)
    assert kit_names - contract.env_names() == set()
    assert {contract.Env.CHAT_SESSIONS_TABLE, contract.Env.JOBS_TABLE} <= kit_names


def _kit_metrics_in(value: Any) -> Iterator[str]:
    """Every MetricName under the kit's namespace anywhere in `value`: an alarm's own metric or its math's,
    and a dashboard widget's metric arrays ([namespace, name, dimension, value, …])."""
    if isinstance(value, dict):
        if value.get("Namespace") == contract.METRICS_NAMESPACE:
            yield value["MetricName"]
        for child in value.values():
            yield from _kit_metrics_in(child)
    elif isinstance(value, list):
        if len(value) > 1 and value[0] == contract.METRICS_NAMESPACE:
            yield value[1]
        for child in value:
            yield from _kit_metrics_in(child)


def test_every_kit_metric_an_alarm_or_the_dashboard_reads_is_a_contract_name(
    env: SynthesizedEnvironment,
) -> None:
    # Given the alarms and the dashboard of the stack (its body is a JSON string with references joined in)
    alarms = list(resources(env.template, "AWS::CloudWatch::Alarm").values())
    (dashboard,) = resources(env.template, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["DashboardBody"]["Fn::Join"][1]
    body = json.loads("".join(part if isinstance(part, str) else "<ref>" for part in parts))
    # When the kit's metrics they read are collected
    read = set(_kit_metrics_in(alarms)) | set(_kit_metrics_in(body))
    # Then each is one the contract names, which is what the functions publish (tests/unit/claude_kit)
    assert read - contract.metric_names() == set()
    # (alarms read the cost and errors; only the dashboard shows the rate-limit headroom)
    assert {
        contract.Metric.COST_USD,
        contract.Metric.ERRORS,
        contract.Metric.RATE_LIMIT_TOKENS_REMAINING,
    } <= read
