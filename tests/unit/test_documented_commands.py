"""Every command README.md and docs/ tell people to run is exercised by a test, run by CI, or listed here as
needing a real AWS account (deploy-only) with the reason; a command added to the docs must be added here.

Commands are the kit's own (`bin/kit …`, `make …`, `python -m …`, the example clients) and the ones the docs
give for other tools: `curl` to a local or the deployed URL (named by its path), `aws SERVICE OPERATION` and
`cdk VERB`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

NEWCOMER = "tests/e2e/test_newcomer.py"
NEWCOMER_RUN = (
    NEWCOMER,
    "test_a_newcomers_first_run_streams_in_the_page_runs_a_batch_job_and_obeys_the_spend_guard",
)
EXAMPLES = "tests/e2e/test_examples.py"
STREAMING_EXAMPLE = (EXAMPLES, "test_a_streaming_example_prints_the_answer_and_then_tokens_cost_and_ttft")
#: command → the test that runs it (file, function or fixture).
EXERCISED = {
    "bin/kit enqueue": NEWCOMER_RUN,
    "bin/kit results": NEWCOMER_RUN,
    "bin/kit requeue": (
        "tests/integration/batch_jobs/test_pipeline.py",
        "test_a_requeue_whose_send_failed_can_be_run_again",
    ),
    "bin/kit dlq redrive": (
        "tests/integration/ops/test_dlq_redrive.py",
        "test_every_dead_letter_goes_back_to_its_queue_with_its_attributes",
    ),
    "bin/kit spend-guard close": NEWCOMER_RUN,
    "bin/kit spend-guard reopen": NEWCOMER_RUN,
    "bin/kit spend-guard status": (
        "tests/unit/ops/test_guard_cli.py",
        "test_a_failing_guard_function_makes_the_command_fail",
    ),
    "bin/kit usage": (NEWCOMER, "test_usage_and_quota_from_the_terminal"),
    "bin/kit quota set": (NEWCOMER, "test_usage_and_quota_from_the_terminal"),
    "bin/kit quota show": (NEWCOMER, "test_usage_and_quota_from_the_terminal"),
    "make local": (NEWCOMER, "newcomer"),
    "python -m local.stack": (NEWCOMER, "newcomer"),
    "curl /chat": NEWCOMER_RUN,
    "curl /chat/<session_id>": NEWCOMER_RUN,
    "curl /_fake/faults": (
        "tests/integration/fake_claude/test_control.py",
        "test_faults_posted_over_http_reach_the_next_calls",
    ),
    "curl /_fake/replies": (
        "tests/integration/fake_claude/test_scripted_replies.py",
        "test_replies_posted_over_http_answer_matching_requests",
    ),
    "examples/python/chat.py": STREAMING_EXAMPLE,
    "examples/js/chat.mjs": STREAMING_EXAMPLE,
    "examples/curl/chat.sh": (
        EXAMPLES,
        "test_the_curl_example_streams_server_sent_events_and_fails_on_a_refusal",
    ),
    "examples/python/batch.py": (
        EXAMPLES,
        "test_the_batch_example_sends_a_job_waits_for_it_and_prints_every_answer",
    ),
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
    "cdk synth": ("tests/infra/test_app.py", "test_bad_value_fails_synth_naming_the_key"),
}
#: Run by CI itself: .ci/run is `make test`, which is `install`, `lint`, `typecheck` and the whole suite.
RUN_BY_CI = {"make test", "make install", "make lint", "make typecheck"}
#: Need a real AWS account and credentials: no test can run them here (no network beyond loopback).
DEPLOY_ONLY = {
    "make deploy": "deploys to AWS (its credential check is tested: tests/unit/ops/test_preflight.py)",
    "make diff": "compares with the deployed stack in AWS",
    "make ci-access": "creates the GitHub Actions OIDC deploy roles in an AWS account",
    "make bootstrap": "creates the CDK's bucket and roles in an AWS account",
    "cdk bootstrap": "what make bootstrap runs (npx cdk bootstrap), in an AWS account",
    "cdk deploy": "what make deploy runs (npx cdk deploy)",
    "cdk diff": "what make diff runs (npx cdk diff)",
    "cdk destroy": "deletes a deployed environment's stacks",
    "curl <ChatUrl>": "the deployed chat endpoint, with an API Gateway key",
    "aws apigateway create-api-key": "an API Gateway key for the deployed chat API",
    "aws apigateway get-api-key": "reads the deployed API key's value",
    "aws dynamodb put-item": "a deployed quota table by hand (bin/kit quota set does the same and is tested)",
    "aws secretsmanager put-secret-value": "stores the real Anthropic API key in the deployed secret",
    "aws sqs get-queue-url": "looks up a deployed queue",
    "aws sqs get-queue-attributes": "looks up a deployed queue's ARN",
    "aws sqs send-message": "one message to a deployed queue (bin/kit enqueue is the tested way)",
    "aws sqs start-message-move-task": "a deployed DLQ redrive by hand (bin/kit dlq redrive is tested)",
    "aws sso login": "signs in to an AWS account",
    "aws sts get-caller-identity": "checks AWS credentials (make deploy's check is tested: test_preflight)",
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
    r"|make [a-z-]+|python -m [a-z_.]+|(?:npx )?cdk [a-z]+|aws [a-z0-9-]+ [a-z0-9-]+"
    r"|examples/[a-z]+/[a-z_]+\.(?:py|mjs|sh))"
)
#: curl's first URL: make local's (any port, or $CHAT from its banner), or the deployed <ChatUrl>.
_CURL = re.compile(r"\bcurl\b[^\n]*?(\$CHAT|<ChatUrl>|http://127\.0\.0\.1:\w+)(/[^\s\"'\\]*)?")


def documented_commands() -> set[str]:
    """Commands in code spans and blocks; `spend-guard status|close|reopen` counts as three."""
    found: set[str] = set()
    for path in DOCS:
        for block, span in _CODE.findall(path.read_text(encoding="utf-8")):
            code = (block or span).replace("\\|", "|")
            for command in _COMMAND.findall(code):
                head, _, actions = command.rpartition(" ")
                if head == "bin/kit spend-guard":
                    found.update(f"{head} {action}" for action in actions.split("|") if action)
                else:
                    found.add(command.removeprefix("npx "))
            for host, url_path in _CURL.findall(code):
                found.add(f"curl {host}" if host == "<ChatUrl>" else f"curl {url_path or '/'}")
    return found


KNOWN = EXERCISED.keys() | RUN_BY_CI | DEPLOY_ONLY.keys() | NOT_TESTED.keys()


def test_every_documented_command_is_tested_run_by_ci_or_deploy_only() -> None:
    assert sorted(documented_commands() - KNOWN) == []


def test_every_command_listed_here_is_still_documented() -> None:
    assert sorted(KNOWN - documented_commands()) == []


def module_functions(path: Path) -> set[str]:
    """The functions (tests, fixtures) a test module defines at its top level, from its syntax tree: importing
    every module named here would load the CDK and moto into a unit run."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize(("command", "test"), sorted(EXERCISED.items()))
def test_the_test_named_for_each_command_exists(command: str, test: tuple[str, str]) -> None:
    path, name = test
    assert name in module_functions(ROOT / path), f"{command}: {test} is gone"
