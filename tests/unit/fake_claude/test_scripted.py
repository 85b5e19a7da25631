"""Scripted replies: the first rule whose substrings all match answers; no match leaves the usual reply."""

from __future__ import annotations

from typing import Any

import pytest

from local.fake_claude import FakeClaude, ScriptedReply
from local.fake_claude.protocol import MessagesRequest
from local.fake_claude.replies import deterministic_text
from local.fake_claude.scripted import ScriptError, parse_rules, scripted_text


def _request(content: Any = "Grade this refund answer", system: Any = None) -> MessagesRequest:
    body: dict[str, Any] = {
        "model": "claude-haiku-5-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": content}],
    }
    if system is not None:
        body["system"] = system
    return MessagesRequest.model_validate(body)


RULES = (
    ScriptedReply(contains="refund", system_contains="You grade", text='{"score": 2, "reason": "x"}'),
    ScriptedReply(contains="refund", text="Refunds take 5 days."),
)


def test_the_first_rule_whose_conditions_all_hold_answers() -> None:
    assert scripted_text(RULES, _request(system="You grade answers")) == '{"score": 2, "reason": "x"}'
    assert scripted_text(RULES, _request(system=[{"type": "text", "text": "You grade answers"}])) == (
        '{"score": 2, "reason": "x"}'
    )
    assert scripted_text(RULES, _request()) == "Refunds take 5 days."
    assert scripted_text(RULES, _request([{"type": "text", "text": "a refund?"}])) == "Refunds take 5 days."
    assert scripted_text(RULES, _request("Something else")) is None


def test_the_fake_answers_scripted_requests_and_the_rest_as_usual() -> None:
    fake = FakeClaude()
    fake.configure(scripted_replies=RULES)
    assert fake.answer(_request()).text == "Refunds take 5 days."
    other = _request("Tell me about queues")
    assert fake.answer(other).text == deterministic_text(other)
    fake.reset()
    assert fake.answer(_request()).text == deterministic_text(_request())


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"text": "x"}, "expected a JSON list of rules"),
        ([{"contains": "a"}], "invalid rule: Field required at 0.text"),
        ([{"text": "x", "color": "red"}], "invalid rule: Extra inputs are not permitted at 0.color"),
    ],
)
def test_rules_that_cannot_be_read_are_refused(body: Any, problem: str) -> None:
    with pytest.raises(ScriptError, match=problem):
        parse_rules(body)
