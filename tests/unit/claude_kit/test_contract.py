"""claude_kit.contract is importable anywhere (infra/, local/, every Lambda asset) and its variable names are
the ones the functions' settings models read."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic_settings import BaseSettings

from batch_jobs.settings import BatchSettings
from chat_api.prompts import PromptSettings
from chat_api.settings import ChatSettings
from claude_kit import contract
from claude_kit.calls import Usage
from claude_kit.reservation import GuardrailSettings
from claude_kit.settings import KitSettings, RuntimeSettings
from claude_kit.telemetry import CallRecord, record_call
from reconciliation.bill import BillReport
from reconciliation.reconcile import Reconciliation, ReportedSpend
from reconciliation.settings import BillSettings
from spend_guard.settings import SpendGuardSettings

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"
#: Every settings model of the functions (the test below also finds any other subclass that is imported).
SETTINGS_MODELS = (
    RuntimeSettings,
    GuardrailSettings,
    ChatSettings,
    PromptSettings,
    BatchSettings,
    SpendGuardSettings,
    BillSettings,
)


def _subclasses(model: type[BaseSettings]) -> set[type[BaseSettings]]:
    direct = set(model.__subclasses__())
    return direct.union(*(_subclasses(sub) for sub in direct))


def variables_read(model: type[BaseSettings]) -> set[str]:
    """What pydantic-settings reads for `model`: its prefix plus each field's name (no aliases are used)."""
    assert all(field.alias is None for field in model.model_fields.values())
    prefix = model.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in model.model_fields}


def test_every_contract_variable_is_read_by_a_settings_model() -> None:
    # Given every settings model of the functions
    models = _subclasses(KitSettings)
    assert set(SETTINGS_MODELS) <= models
    # When the variables they read are listed
    read = set().union(*(variables_read(model) for model in models))
    # Then each name the contract gives infra/ and local/ is one of them
    assert contract.env_names() - read == set()


def test_a_variable_no_model_reads_would_be_caught() -> None:
    # Given a name no settings model has a field for
    read = set().union(*(variables_read(model) for model in SETTINGS_MODELS))
    # Then the check above would report it (and a real one, read with the chat prefix, is found)
    assert "KIT_SESSIONS_TABLE" not in read
    assert contract.Env.CHAT_SESSIONS_TABLE in read


def test_the_contract_imports_nothing_but_the_standard_library() -> None:
    # Given a fresh interpreter with only the functions' bundle root added to its path
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(FUNCTIONS)!r})\n"
        "before = set(sys.modules)\n"
        "import claude_kit.contract\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    # When it imports the contract
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-I", "-c", script],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    # Then every module it loaded is the standard library's or the contract's own package
    outside = {name for name in loaded if name.split(".")[0] not in {*sys.stdlib_module_names, "claude_kit"}}
    assert "claude_kit.contract" in loaded
    assert outside == set()


def test_every_metric_a_claude_call_and_the_bill_publish_is_a_contract_name(capsys) -> None:
    # Given a call record with every optional figure set, and a bill with a reconciliation
    call = CallRecord(
        environment="dev",
        route="chat",
        model="claude-haiku-5-5",
        requested_model="claude-sonnet-5-5",
        usage=Usage(
            input_tokens=1, output_tokens=1, cache_creation_input_tokens=1, cache_read_input_tokens=1
        ),
        latency_ms=1.0,
        timestamp=datetime.now(UTC),
        ttft_ms=1.0,
        cost_usd=0.1,
        possibly_billed_usd=0.1,
        ratelimit_requests_remaining=1,
        ratelimit_tokens_remaining=1,
    )
    now = datetime.now(UTC)
    bill = BillReport(
        month_to_date_usd=1.0,
        estimated_month_to_date_usd=1.0,
        estimated_today_usd=1.0,
        reported_month_to_date_usd=1.0,
        reconciliation=Reconciliation(
            start=now, end=now, estimated_usd=1.0, reported=ReportedSpend(1.0, Usage(input_tokens=1))
        ),
    )
    # When the call is recorded (one EMF blob on stdout)
    record_call(call)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    published = {m["Name"] for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    # Then every metric name, the call's and the bill's, is one the contract names (the alarms read those)
    assert contract.Metric.TTFT_MS in published
    assert published | set(bill.metrics()) <= contract.metric_names()
