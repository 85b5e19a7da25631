"""cdk.json's environments are valid as shipped, differ where they should, and bad values name their key."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from infra.config import ConfigError, EnvironmentConfig, QueueConfig, load_environment

REPO_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENTS: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]


def _copy() -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(ENVIRONMENTS))
    return copy


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_shipped_environment_is_valid_and_left_for_the_user_to_place(env_name: str) -> None:
    config = load_environment(ENVIRONMENTS, env_name)

    assert config.account == "unknown"
    assert config.account_or_none is None


def test_prod_is_kept_longer_and_protected_while_dev_stays_cheap_and_disposable() -> None:
    dev, staging, prod = (load_environment(ENVIRONMENTS, name) for name in ("dev", "staging", "prod"))

    assert (dev.removal_policy, staging.removal_policy, prod.removal_policy) == (
        "destroy",
        "destroy",
        "retain",
    )
    assert prod.termination_protection
    assert not dev.termination_protection
    assert dev.log_retention_days < staging.log_retention_days < prod.log_retention_days
    assert dev.alerts.claude_daily_usd < prod.alerts.claude_daily_usd
    assert dev.alerts.aws_monthly_budget_usd < prod.alerts.aws_monthly_budget_usd
    assert prod.chat.snapstart is False
    assert dev.chat.reserved_concurrency is None  # new accounts cannot reserve any concurrency


def test_bad_value_names_its_full_key() -> None:
    environments = _copy()
    environments["prod"]["alerts"]["claude_daily_usd"] = -5

    with pytest.raises(ConfigError, match=r"environments\.prod\.alerts\.claude_daily_usd"):
        load_environment(environments, "prod")


def test_a_renamed_key_fails_naming_its_new_name() -> None:
    environments = _copy()
    environments["dev"]["alerts"]["daily_cost_threshold_usd"] = 5

    with pytest.raises(
        ConfigError, match=r"environments\.dev\.alerts: .*daily_cost_threshold_usd is now claude_daily_usd"
    ):
        load_environment(environments, "dev")


def test_reconciliation_with_an_admin_key_needs_the_environments_key_id() -> None:
    environments = _copy()
    environments["prod"]["reconciliation"] = {"admin_key_secret_name": "/claude-kit/prod/admin-key"}

    with pytest.raises(ConfigError, match=r"reconciliation\.anthropic_api_key_id is required"):
        load_environment(environments, "prod")


def test_misspelled_key_is_rejected_not_ignored() -> None:
    environments = _copy()
    environments["dev"]["log_retention"] = 7

    with pytest.raises(ConfigError, match=r"environments\.dev\.log_retention\b"):
        load_environment(environments, "dev")


def test_log_retention_must_be_a_period_cloudwatch_accepts() -> None:
    environments = _copy()
    environments["staging"]["log_retention_days"] = 10

    with pytest.raises(ConfigError, match="log_retention_days must be one of"):
        load_environment(environments, "staging")


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'qa'.*'dev'.*'prod'.*'staging'"):
        load_environment(ENVIRONMENTS, "qa")


def test_missing_environments_block_is_explained() -> None:
    with pytest.raises(ConfigError, match="'environments' must map environment names"):
        load_environment(None, "dev")


def test_environment_without_the_newer_keys_keeps_working_as_before() -> None:
    # Given a cdk.json written before termination_protection and log_level existed
    config = EnvironmentConfig.model_validate({"region": "eu-west-1"})

    # Then the stack stays deletable and functions log at INFO
    assert config.termination_protection is False
    assert config.log_level == "INFO"


def _settings(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, object]]:
    """(key, default) of every setting, nested sections flattened to dotted keys."""
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _settings(field.annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field.get_default(call_default_factory=True)


def test_every_setting_is_documented_with_its_default() -> None:
    # Given the configuration reference table of docs/deploy.md
    rows = dict(
        re.findall(r"^\| `([^`]+)` \| (.+?) \|", (REPO_ROOT / "docs" / "deploy.md").read_text(), re.M)
    )

    # Then each setting has a row, showing its current default (as JSON) where it has a simple one
    settings = [*_settings(EnvironmentConfig), *_settings(QueueConfig, "batch.queues[].")]
    missing = [key for key, _ in settings if key not in rows]
    assert missing == []
    stale = [key for key, default in settings if _as_json(default) not in (None, rows[key])]
    assert stale == []


def _as_json(default: object) -> str | None:
    try:
        return f"`{json.dumps(list(default) if isinstance(default, tuple) else default)}`"
    except TypeError:  # a list of sections (batch.queues) or a required key: documented in words
        return None


def test_a_queue_message_limit_beyond_what_an_item_record_can_hold_is_refused() -> None:
    # Given a queue allowing 500 KB messages (SQS would, but a work item's DynamoDB record could not hold one)
    environments = _copy()
    environments["dev"]["batch"] = {"queues": [{"name": "big", "max_message_bytes": 500_000}]}

    # Then synth is refused, naming the key
    with pytest.raises(ConfigError, match=r"environments\.dev\.batch\.queues\.0\.max_message_bytes"):
        load_environment(environments, "dev")
