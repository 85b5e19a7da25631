"""Deterministic checks and similarity: each passes on a good answer and fails a bad one, saying why."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from ops.evals.checks import Answer, evaluate
from ops.evals.golden import Check
from ops.evals.similarity import similarity

CHECK: TypeAdapter[Check] = TypeAdapter(Check)


def answer(text: str = "Hello there, friend.", **fields: Any) -> Answer:
    values: dict[str, Any] = {
        "stop_reason": "end_turn",
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": 0.001,
        "latency_ms": 800.0,
    }
    return Answer(text=text, **{**values, **fields})


def verdict(spec: dict[str, Any], given: Answer):
    return evaluate(CHECK.validate_python(spec), given)


@pytest.mark.parametrize(
    ("spec", "given", "passed", "detail"),
    [
        (
            {"length": {"min_words": 2, "max_words": 3}},
            answer("one two three"),
            True,
            "3 words, 5 output tokens",
        ),
        ({"length": {"max_words": 2}}, answer("one two three"), False, "3 words, expected at most 2"),
        ({"length": {"min_output_tokens": 6}}, answer(), False, "5 tokens, expected at least 6"),
        ({"contains": ["HELLO"]}, answer(), True, "all present"),
        ({"contains": ["HELLO"], "case_sensitive": True}, answer(), False, "missing 'HELLO'"),
        ({"contains": ["hello", "refund", "policy"]}, answer(), False, "missing 'refund', 'policy'"),
        ({"not_contains": ["As an AI"]}, answer(), True, "none present"),
        ({"not_contains": ["friend"]}, answer(), False, "contains prohibited 'friend'"),
        ({"regex": r"^Hello\b"}, answer(), True, r"/^Hello\b/ matches"),
        ({"regex": r"\d+"}, answer(), False, r"/\d+/ does not match"),
        ({"valid_json": True}, answer('{"a": 1}'), True, "valid JSON"),
        (
            {"valid_json": True},
            answer("Sure! {"),
            False,
            "not valid JSON: Expecting value: line 1 column 1 (char 0)",
        ),
        (
            {"headings": ["Steps", "## Risks"]},
            answer("## Steps\n- a\n### Risks ##\n- b"),
            True,
            "all present",
        ),
        (
            {"headings": ["Steps", "Risks"]},
            answer("## Steps\nRisks are low"),
            False,
            "missing heading 'Risks'",
        ),
        ({"stop_reason": "end_turn"}, answer(), True, "stop_reason end_turn"),
        (
            {"stop_reason": "end_turn"},
            answer(stop_reason="max_tokens"),
            False,
            "stop_reason max_tokens, expected end_turn",
        ),
        ({"max_cost_usd": 0.002}, answer(), True, "cost $0.001000 <= $0.002"),
        ({"max_cost_usd": 0.0005}, answer(), False, "cost $0.001000 > $0.0005"),
        (
            {"max_cost_usd": 1},
            answer(cost_usd=None),
            False,
            "cost unknown: the model has no price in claude_kit/data/models.json",
        ),
        ({"max_latency_ms": 1000}, answer(), True, "latency 800 ms <= 1000 ms"),
        ({"max_latency_ms": 500}, answer(), False, "latency 800 ms > 500 ms"),
        (
            {"max_latency_ms": 500},
            answer(latency_ms=None),
            None,
            "not measured: batch mode has no per-call latency",
        ),
    ],
)
def test_each_check_says_why(spec: dict[str, Any], given: Answer, passed: bool | None, detail: str) -> None:
    result = verdict(spec, given)
    assert (result.passed, result.detail) == (passed, detail)


def test_a_json_schema_violation_names_the_path() -> None:
    spec = {
        "json_schema": {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
        }
    }
    assert verdict(spec, answer('{"city": "Lisbon", "n": 2}')).passed is True
    failed = verdict(spec, answer('{"city": "Lisbon", "n": "two"}'))
    assert (failed.passed, failed.detail) == (
        False,
        "schema violation at $.n: 'two' is not of type 'integer'",
    )
    assert verdict(spec, answer("not json")).detail.startswith("not valid JSON")


def test_similarity_ranks_a_paraphrase_above_an_unrelated_answer() -> None:
    reference = "Streaming lets users see the answer as it is generated, lowering perceived latency."
    paraphrase = "Users see the answer as it is generated when you stream it, so latency feels lower."
    unrelated = "Bananas are a good source of potassium."
    assert similarity(reference, reference) == 1.0
    assert similarity(paraphrase, reference) > 0.6 > similarity(unrelated, reference)


def test_a_similarity_check_reports_its_score() -> None:
    spec = {"similar": {"reference": "the cat sat on the mat", "min": 0.9}}
    good = verdict(spec, answer("The cat sat on the mat."))
    bad = verdict(spec, answer("Dogs bark loudly at night."))
    assert (good.passed, good.score) == (True, 1.0)
    assert bad.passed is False
    assert bad.detail.startswith("similarity 0.")
    assert bad.detail.endswith("< 0.9")
