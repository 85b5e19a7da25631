"""LLM-as-judge: the request carries the rubric; the verdict is validated and compared with the threshold."""

from __future__ import annotations

import pytest

from ops.evals.golden import JudgeRubric, JudgeSettings, Scenario
from ops.evals.judge import JUDGE_SYSTEM, judge_request, parse_verdict, verdict_for

RUBRIC = JudgeRubric(rubric="Mentions latency.", min_score=4)


def test_the_judge_request_goes_to_the_judge_model_with_rubric_and_answer() -> None:
    scenario = Scenario.model_validate(
        {"id": "s1", "prompt": "Why stream?", "expect": [{"valid_json": True}]}
    )
    request = judge_request(JudgeSettings(model="claude-haiku-5-5"), scenario, RUBRIC, "Lower latency.")
    assert request.model == "claude-haiku-5-5"
    assert request.system == JUDGE_SYSTEM
    prompt = request.messages[0]["content"]
    assert prompt.startswith("Scenario: s1\n")
    assert "<user>Why stream?</user>" in prompt
    assert "<answer>\nLower latency.\n</answer>" in prompt
    assert "<rubric>\nMentions latency.\n</rubric>" in prompt
    assert request.params == {"temperature": 0}


def test_a_verdict_is_read_from_a_fenced_reply() -> None:
    verdict = parse_verdict('```json\n{"score": 4, "reason": "Mentions latency."}\n```')
    assert (verdict.score, verdict.reason) == (4, "Mentions latency.")


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("I think it is good.", "no JSON object in the judge's reply"),
        ('{"score": 4, reason: x}', "the judge's reply is not valid JSON"),
        (
            '{"score": 7, "reason": "x"}',
            "invalid judge verdict: score: Input should be less than or equal to 5",
        ),
        ('{"score": "4", "reason": "x"}', "invalid judge verdict: score: Input should be a valid integer"),
        ('{"score": 4}', "invalid judge verdict: reason: Field required"),
    ],
)
def test_an_invalid_verdict_fails_the_check_saying_what_is_wrong(reply: str, problem: str) -> None:
    result = verdict_for(RUBRIC, reply)
    assert result.passed is False
    assert result.detail.startswith(problem), result.detail


def test_a_score_below_the_threshold_fails_and_one_at_it_passes() -> None:
    low = verdict_for(RUBRIC, '{"score": 3, "reason": "Vague."}')
    met = verdict_for(RUBRIC, '{"score": 4, "reason": "Clear."}')
    assert (low.passed, low.detail, low.score) == (False, "judge score 3 < 4: Vague.", 3)
    assert (met.passed, met.detail, met.score) == (True, "judge score 4 >= 4: Clear.", 4)
