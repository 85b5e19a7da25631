"""Batch mode goes through Message Batches (the kit's batch client) and reaches the realtime verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_kit.pricing import load_price_table
from local.fake_claude import ScriptedReply
from ops.evals.batch import batch_runner
from ops.evals.results import ScenarioResult
from tests.integration.evals.conftest import Evals, judged, write_set

SET = """\
version: 1
id: mixed
defaults:
  repeats: 2
scenarios:
  - id: good
    prompt: How long do refunds take?
    expect:
      - contains: [refund]
      - length: {max_words: 30}
      - similar: {reference: A refund takes five business days., min: 0.5}
      - judge: {rubric: States the delay., min_score: 4}
  - id: broken
    prompt: Give order 42 as JSON.
    expect:
      - valid_json: true
      - stop_reason: end_turn
  - id: judged-low
    prompt: Say something kind.
    expect:
      - not_contains: [stupid]
      - judge: {rubric: Kind and warm., min_score: 4}
"""
REPLIES = (
    judged("good", 5, "Clear."),
    judged("judged-low", 2, "Curt."),
    ScriptedReply(contains="refunds take", text="A refund takes 5 business days."),
    ScriptedReply(contains="order 42", text="Order 42 has shipped."),
    ScriptedReply(contains="something kind", text="You did fine."),
)


def verdicts(results: list[ScenarioResult]) -> list[tuple[str, bool, list[tuple[str, bool | None, str]]]]:
    return [(r.key, r.passed, [(c.key, c.passed, c.detail) for c in r.checks()]) for r in results]


def test_a_batch_run_produces_the_same_verdicts_as_the_realtime_run(evals: Evals, tmp_path: Path) -> None:
    loaded = write_set(tmp_path, SET)
    evals.script(*REPLIES)
    realtime = evals.run(loaded)

    # Given batches that take a minute on the fake's clock, polled every 30 s (the sleeps move the clock)
    evals.fake.configure(batch_processing_delay_s=60)
    runner = batch_runner(evals.settings, evals.clients, poll_seconds=30, progress=None)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        evals.fake.advance_clock(seconds)

    runner.sleep = sleep
    calls_before = len(evals.fake.message_calls())
    batch = runner.run([loaded])

    # Then every verdict, with its reason, is the realtime run's
    assert verdicts(batch) == verdicts(realtime)
    assert [r.passed for r in batch] == [True, False, False]
    # and every call went through Message Batches: 6 answers, then 4 judge calls for the 4 answers judged
    assert len(evals.fake.message_calls()) == calls_before
    assert len(evals.fake.batch_custom_ids()) == 10
    assert sleeps == [30, 30, 30, 30]  # two polls per batch
    # at the batch price
    discount = load_price_table().batch_discount
    for online, offline in zip(realtime, batch, strict=True):
        online_cost, offline_cost = online.metrics().cost_usd, offline.metrics().cost_usd
        assert online_cost is not None
        assert offline_cost == pytest.approx(online_cost * discount)
        assert offline.metrics().latency_p95_ms is None


def test_a_batch_item_that_errors_is_an_error_run(evals: Evals, tmp_path: Path) -> None:
    from local.fake_claude import Fault

    evals.script(*REPLIES)
    evals.fake.inject(Fault.batch_item("item-0", error_type="overloaded_error"))
    runner = batch_runner(evals.settings, evals.clients, poll_seconds=0, progress=None)
    good = runner.run([write_set(tmp_path, SET)], repeats=1)[0]
    assert good.first_error() == "overloaded_error: fake overloaded_error for item-0"
    assert good.metrics().error_rate == 1.0
