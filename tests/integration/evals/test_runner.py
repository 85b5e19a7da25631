"""The runner against the fake Claude over 127.0.0.1: passing sets pass, broken answers fail the right check,
judge verdicts below threshold fail, and every call goes through the kit's runtime core."""

from __future__ import annotations

import threading
from pathlib import Path

from local.fake_claude import Fault, ScriptedReply
from ops.evals.checks import Answer
from ops.evals.cli import FAKE_REPLIES
from ops.evals.golden import load_set
from ops.evals.runner import run_realtime
from ops.evals.targets import EVAL_ROUTE, JUDGE_ROUTE, CoreTarget, Prompt
from tests.integration.evals.conftest import Evals, judged, write_set

REPO_ROOT = Path(__file__).resolve().parents[3]

SET = """\
version: 1
id: support
defaults:
  repeats: 2
scenarios:
  - id: refund
    prompt: How long do refunds take?
    expect:
      - contains: [refund, days]
      - not_contains: ["As an AI"]
      - length: {max_words: 30}
      - stop_reason: end_turn
      - judge: {rubric: States the refund delay., min_score: 4}
  - id: order-json
    prompt: Give order 42 as JSON with keys id and status.
    expect:
      - valid_json: true
      - json_schema: {type: object, required: [id, status]}
"""
GOOD = (
    ScriptedReply(contains="refunds take", text="A refund takes 5 business days after we receive the item."),
    ScriptedReply(contains="order 42", text='{"id": 42, "status": "shipped"}'),
)


def checks(result) -> dict[str, tuple[bool | None, str]]:
    return {check.key: (check.passed, check.detail) for check in result.checks()}


def test_the_example_set_passes_with_its_scripted_replies(evals: Evals) -> None:
    # Given the fake answering as evals/fake/replies.yaml says (what make eval does)
    from ops.evals.cli import _fake_replies

    evals.script(*_fake_replies(FAKE_REPLIES))
    loaded = load_set(REPO_ROOT / "evals" / "sets" / "chat-assistant.yaml")
    # When the kit's example set runs once per scenario
    results = evals.run(loaded, repeats=1)
    # Then every scenario passes every check
    failures = [f"{r.key} {c.key}: {c.detail}" for r in results for c in r.checks() if c.passed is False]
    assert failures == []
    assert all(result.passed for result in results)


def test_a_passing_set_passes_and_its_figures_come_from_the_runtime_core(
    evals: Evals, tmp_path: Path
) -> None:
    evals.script(judged("refund", 5), *GOOD)
    results = evals.run(write_set(tmp_path, SET))
    assert [(r.key, r.passed) for r in results] == [("support/refund", True), ("support/order-json", True)]
    refund = results[0].metrics()
    # Ground truth: what the core recorded for the answers (the judge's calls are recorded under their route)
    answers = [
        r
        for r in evals.records
        if r.route == EVAL_ROUTE and (r.request_id or "").startswith("support/refund/")
    ]
    judges = [r for r in evals.records if r.route == JUDGE_ROUTE]
    assert len(answers) == 2
    assert len(judges) == 2  # one judge check × two repeats, and no more
    assert refund.output_tokens == answers[0].usage.output_tokens == 11  # one token per word in the fake
    assert refund.cost_usd == answers[0].cost_usd
    assert refund.judge_cost_usd == sum(r.cost_usd or 0 for r in judges)
    assert refund.judge_score == 5
    assert all(record.model == "claude-haiku-5-5" for record in judges)
    assert len(evals.progress) == 4
    assert evals.progress[-1].startswith("[4/4] ")


def test_a_deliberately_broken_answer_fails_the_right_check_with_a_clear_message(
    evals: Evals, tmp_path: Path
) -> None:
    # Given answers that break one rule each: a prohibited phrase, and prose instead of JSON
    evals.script(
        judged("refund", 5),
        ScriptedReply(contains="refunds take", text="As an AI, I think a refund takes 5 days."),
        ScriptedReply(contains="order 42", text="Sure! Order 42 has shipped."),
    )
    refund, order = evals.run(write_set(tmp_path, SET))
    # Then exactly the checks they break fail, saying why
    assert checks(refund) == {
        "0:contains": (True, "all present"),
        "1:not_contains": (False, "contains prohibited 'As an AI'"),
        "2:length": (True, "10 words, 10 output tokens"),
        "3:stop_reason": (True, "stop_reason end_turn"),
        "4:judge": (True, "judge score 5 >= 4: Because."),
    }
    assert not refund.passed
    assert checks(order) == {
        "0:valid_json": (False, "not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        "1:json_schema": (False, "not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    }


def test_a_judge_verdict_below_threshold_fails(evals: Evals, tmp_path: Path) -> None:
    evals.script(judged("refund", 2, "Never says how long."), *GOOD)
    refund, order = evals.run(write_set(tmp_path, SET))
    assert checks(refund)["4:judge"] == (False, "judge score 2 < 4: Never says how long.")
    assert not refund.passed
    assert order.passed


def test_a_judge_reply_that_is_not_a_verdict_fails_the_check(evals: Evals, tmp_path: Path) -> None:
    evals.script(ScriptedReply(system_contains="You grade", text="Looks fine to me!"), *GOOD)
    refund, _ = evals.run(write_set(tmp_path, SET))
    passed, detail = checks(refund)["4:judge"]
    assert passed is False
    assert detail == "no JSON object in the judge's reply: 'Looks fine to me!'"


def test_a_failed_call_counts_as_an_error_run(evals: Evals, tmp_path: Path) -> None:
    # Given a model the deployment does not allow: the core refuses before any call
    evals.script(*GOOD)
    text = SET.replace("    prompt: Give order 42", "    model: claude-opus-5-5\n    prompt: Give order 42")
    _, order = evals.run(write_set(tmp_path, text), repeats=1)
    assert order.metrics().error_rate == 1.0
    assert (
        order.first_error() == "invalid_request_error: model 'claude-opus-5-5' is not in KIT_ALLOWED_MODELS"
    )
    assert not order.passed
    assert evals.fake.message_calls() != []  # the other scenario was still answered


def test_concurrency_is_bounded(evals: Evals, tmp_path: Path) -> None:
    # Given a target that counts the calls in flight, and answers held for a moment so that calls overlap
    evals.script(judged("refund", 5), *GOOD)
    evals.fake.inject(*[Fault.stall(seconds=0.2) for _ in range(4)])
    core = CoreTarget(evals.service, evals.settings.model)
    lock, in_flight, most = threading.Lock(), [0], [0]

    class Counting:
        name = "counting"

        def answer(self, prompt: Prompt, request_id: str) -> Answer:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            try:
                return core.answer(prompt, request_id)
            finally:
                with lock:
                    in_flight[0] -= 1

    # When four runs go with at most two at once
    results = run_realtime([write_set(tmp_path, SET)], Counting(), evals.service, concurrency=2)
    # Then never more than two were in flight, and every run was answered
    assert most[0] <= 2
    assert all(result.passed for result in results)
    assert sum(len(result.runs) for result in results) == 4
