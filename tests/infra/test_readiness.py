"""`bin/kit readiness` on the shipped environments and on a config missing safeguards, from real synths."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from markdown_it import MarkdownIt

from ops.readiness.__main__ import evaluate
from ops.readiness.checks import CHECKS
from ops.readiness.report import Report, Status, render_json, render_markdown, render_table
from ops.synthesis import SynthesizedEnvironment, environment_configs, synthesize
from tests.infra.conftest import CDK_CONTEXT, ENVIRONMENTS
from tests.infra.conftest import SynthesizedEnvironment as Synthesized

pytestmark = pytest.mark.slow

#: What the shipped cdk.json leaves to the adopter: alarm subscribers, the Anthropic spend-limit attestation.
SHIPPED_FAILURES = {"anthropic-spend-limit", "cost-alarms", "service-alarms"}


def _readiness(env_name: str, synthesized: Callable[[str], Synthesized]) -> Report:
    shared = synthesized(env_name)
    environment = SynthesizedEnvironment(
        env_name=env_name,
        config=shared.config,
        templates={shared.stack.stack_name: dict(shared.template.to_json())},
        all_configs=environment_configs(CDK_CONTEXT),
    )
    return evaluate(environment)


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_shipped_environment_gets_every_item_and_fails_only_what_the_adopter_must_fill_in(
    env_name: str, synthesized
) -> None:
    # When readiness judges a shipped environment
    report = _readiness(env_name, synthesized)

    # Then every item is there once, each with evidence, and a fix wherever it did not pass
    assert len(report.items) == len(CHECKS)
    assert len({item.id for item in report.items}) == len(CHECKS)
    assert all(item.evidence for item in report.items)
    assert all(bool(item.fix) == (item.status is not Status.PASS) for item in report.items)
    # and what fails is exactly what the shipped cdk.json leaves open: alarm subscribers, the spend limit
    assert {item.id for item in report.items if item.status is Status.FAIL} == SHIPPED_FAILURES
    assert report.failed

    # and the table shows every item with its evidence
    table = render_table(report, width=100)
    words = " ".join(table.split())
    for item in report.items:
        assert item.title in table
        assert " ".join(item.evidence.split()) in words
    assert table.rstrip().endswith(report.summary())


def test_only_prod_reserves_chat_concurrency(synthesized) -> None:
    statuses = {env: {i.id: i.status for i in _readiness(env, synthesized).items} for env in ENVIRONMENTS}

    assert statuses["prod"]["rate-limit-handling"] is Status.PASS
    assert statuses["dev"]["rate-limit-handling"] is Status.WARN


def test_markdown_renders_as_one_table_row_per_item(synthesized) -> None:
    report = _readiness("prod", synthesized)

    html = MarkdownIt("commonmark").enable("table").render(render_markdown(report))

    assert html.count("<table>") == 1
    assert html.count("<tr>") == len(report.items) + 1  # the header row, then one per item
    assert html.count("<td>") == 5 * len(report.items)
    assert "❌ fail" in html


def test_json_output_carries_the_verdict_and_every_item(synthesized) -> None:
    report = _readiness("staging", synthesized)

    document = json.loads(render_json(report))

    assert document["ready"] is False
    assert document["counts"]["fail"] == len(SHIPPED_FAILURES)
    assert [item["id"] for item in document["items"]] == [item.id for item in report.items]


def _context_with(env_name: str, **changes: dict[str, Any]) -> dict[str, Any]:
    context = copy.deepcopy(CDK_CONTEXT)
    environment = context["environments"][env_name]
    for block, values in changes.items():
        environment.setdefault(block, {}).update(values)
    return context


def test_config_without_caching_subscribers_or_fallback_fails_those_items() -> None:
    # Given dev with prompt caching off, no fallback model and nobody subscribed to the alarms
    context = _context_with("dev", claude={"prompt_caching": False, "fallback_model": None})
    assert context["environments"]["dev"]["alerts"]["emails"] == []

    # When readiness judges what would be deployed
    report = evaluate(synthesize("dev", context=context))

    # Then exactly the named items fail, each saying which setting to change
    failed = {item.id: item for item in report.items if item.status is Status.FAIL}
    assert set(failed) == {"prompt-caching", "fallback-model", *SHIPPED_FAILURES}
    assert "KIT_PROMPT_CACHING=false" in failed["prompt-caching"].evidence
    assert "claude.prompt_caching" in failed["prompt-caching"].fix
    assert "claude.fallback_model" in failed["fallback-model"].fix
    assert "alerts.emails" in failed["cost-alarms"].fix
