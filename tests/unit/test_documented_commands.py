"""Every command README.md and docs/ tell people to run is exercised by a test, run by CI, or listed here as
needing a real AWS account (deploy-only) with the reason; a command added to the docs must be added here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

NEWCOMER = "tests/e2e/test_newcomer.py"
#: command → the test that runs it (file, function or fixture).
EXERCISED = {
    "bin/kit enqueue": (NEWCOMER, "test_enqueue_then_wait_for_results_and_download_them"),
    "bin/kit results": (NEWCOMER, "test_enqueue_then_wait_for_results_and_download_them"),
    "bin/kit requeue": (
        "tests/integration/batch_jobs/test_pipeline.py",
        "test_a_requeue_whose_send_failed_can_be_run_again",
    ),
    "bin/kit dlq redrive": (
        "tests/integration/ops/test_dlq_redrive.py",
        "test_every_dead_letter_goes_back_to_its_queue_with_its_attributes",
    ),
    "bin/kit spend-guard close": (
        NEWCOMER,
        "test_closing_the_spend_guard_stops_the_chat_with_the_reason_until_reopened",
    ),
    "bin/kit spend-guard reopen": (
        NEWCOMER,
        "test_closing_the_spend_guard_stops_the_chat_with_the_reason_until_reopened",
    ),
    "bin/kit spend-guard status": (
        "tests/unit/ops/test_guard_cli.py",
        "test_a_failing_guard_function_makes_the_command_fail",
    ),
    "bin/kit usage": (NEWCOMER, "test_usage_and_quota_from_the_terminal"),
    "bin/kit quota set": (NEWCOMER, "test_usage_and_quota_from_the_terminal"),
    "bin/kit quota show": (NEWCOMER, "test_usage_and_quota_from_the_terminal"),
    "make local": (NEWCOMER, "stack"),
    "python -m local.stack": (NEWCOMER, "stack"),
    "make demo": ("tests/e2e/test_chat_demo.py", "test_the_demo_streams_one_answer_and_exits_zero"),
    "bin/kit eval": ("tests/integration/evals/test_gate.py", "test_the_json_report_carries_the_gate"),
    "python -m ops.evals": ("tests/integration/evals/test_gate.py", "test_the_json_report_carries_the_gate"),
    "make eval": (
        "tests/integration/evals/test_runner.py",
        "test_the_example_set_passes_with_its_scripted_replies",
    ),
    "python -m ops.evals.golden": (
        "tests/unit/ops/evals/test_golden.py",
        "test_the_published_json_schema_is_current_and_accepts_the_example_sets",
    ),
    "bin/kit smoke": ("tests/e2e/test_smoke.py", "test_every_path_of_a_working_environment_passes"),
    "bin/kit readiness": (
        "tests/infra/test_readiness.py",
        "test_shipped_environment_gets_every_item_and_fails_only_what_the_adopter_must_fill_in",
    ),
    "bin/kit cost-estimate": (
        "tests/unit/ops/test_cost_estimate.py",
        "test_idle_cost_of_a_small_template_matches_the_hand_computed_figure",
    ),
    "make synth": ("tests/infra/test_app.py", "test_bad_value_fails_synth_naming_the_key"),
}
#: Run by CI itself: .ci/run is `make test`, which is `install`, `lint`, `typecheck` and the whole suite.
RUN_BY_CI = {"make test", "make install", "make lint", "make typecheck"}
#: Need a real AWS account and credentials: no test can run them here (no network beyond loopback).
DEPLOY_ONLY = {
    "make deploy": "deploys to AWS (its credential check is tested: tests/unit/ops/test_preflight.py)",
    "make diff": "compares with the deployed stack in AWS",
    "make ci-access": "creates the GitHub Actions OIDC deploy roles in an AWS account",
    "make bootstrap": "creates the CDK's bucket and roles in an AWS account",
}
#: Documented, deliberately not tested, and why.
NOT_TESTED = {
    "make bench": "a measurement of this machine that takes minutes; its numbers go to docs/, not to asserts",
    "python -m scripts.bench": "make bench by section (docs/BENCHMARKS.md); a smoke test runs it small",
    "make clean": "removes caches (rm -rf)",
    "make lock": "recompiles the hashed lock files from PyPI (the registry, not loopback)",
    "make mutation": "mutation testing of the money path: minutes to an hour, run apart from make test",
}

_CODE = re.compile(r"```[a-z]*\n(.*?)```|`([^`\n]+)`", re.DOTALL)
_COMMAND = re.compile(
    r"\b(bin/kit (?:dlq redrive|quota (?:set|show)|spend-guard [a-z|]+|[a-z-]+)"
    r"|make [a-z-]+|python -m [a-z_.]+)"
)


def documented_commands() -> set[str]:
    """Commands in code spans and blocks; `spend-guard status|close|reopen` counts as three."""
    found: set[str] = set()
    for path in DOCS:
        for block, span in _CODE.findall(path.read_text(encoding="utf-8")):
            for command in _COMMAND.findall((block or span).replace("\\|", "|")):
                head, _, actions = command.rpartition(" ")
                if head == "bin/kit spend-guard":
                    found.update(f"{head} {action}" for action in actions.split("|") if action)
                else:
                    found.add(command)
    return found


def test_every_documented_command_is_tested_run_by_ci_or_deploy_only() -> None:
    known = EXERCISED.keys() | RUN_BY_CI | DEPLOY_ONLY.keys() | NOT_TESTED.keys()
    assert sorted(documented_commands() - known) == []


def module_functions(path: Path) -> set[str]:
    """The functions (tests, fixtures) a test module defines at its top level, from its syntax tree: importing
    every module named here would load the CDK and moto into a unit run."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize(("command", "test"), sorted(EXERCISED.items()))
def test_the_test_named_for_each_command_exists(command: str, test: tuple[str, str]) -> None:
    path, name = test
    assert name in module_functions(ROOT / path), f"{command}: {test} is gone"
