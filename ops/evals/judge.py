"""LLM-as-judge: a rubric and an answer go to a (cheaper) Claude model, which returns a validated verdict.

The request is built here and sent by whoever runs the set (realtime: the kit's `ClaudeService`, so the call
is priced and recorded like any other; batch mode: a Message Batch). The verdict must be a JSON object
`{"score": 1-5, "reason": "..."}`; anything else fails the check, saying what was wrong.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from claude_kit.calls import ClaudeRequest
from ops.evals.checks import Verdict
from ops.evals.golden import JudgeRubric, JudgeSettings, Scenario

JUDGE_SYSTEM = (
    "You grade an AI assistant's answer against a rubric. Reply with only a JSON object, no prose around it: "
    '{"score": <integer 1 to 5>, "reason": "<one sentence>"}. 5 means the answer fully meets the rubric, '
    "3 that it partly does, 1 that it does not at all. Judge only what the rubric asks."
)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class JudgeVerdict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    score: Annotated[int, Field(ge=1, le=5, strict=True)]
    reason: Annotated[str, Field(min_length=1)]


def judge_request(
    settings: JudgeSettings, scenario: Scenario, rubric: JudgeRubric, answer: str
) -> ClaudeRequest:
    """The grading call; `Scenario: <id>` on its first line lets a scripted fake tell scenarios apart."""
    conversation = "\n".join(
        f"<{turn['role']}>{turn['content']}</{turn['role']}>" for turn in scenario.messages()
    )
    prompt = (
        f"Scenario: {scenario.id}\n"
        f"<conversation>\n{conversation}\n</conversation>\n"
        f"<answer>\n{answer}\n</answer>\n"
        f"<rubric>\n{rubric.rubric}\n</rubric>"
    )
    return ClaudeRequest(
        model=settings.model,
        max_tokens=settings.max_tokens,
        messages=[{"role": "user", "content": prompt}],
        system=JUDGE_SYSTEM,
        params={"temperature": 0},
    )


def parse_verdict(text: str) -> JudgeVerdict:
    """The verdict in the judge's reply (a code fence or a sentence around the object is tolerated)."""
    found = _OBJECT.search(text)
    if found is None:
        raise ValueError(f"no JSON object in the judge's reply: {_clip(text)!r}")
    try:
        data: Any = json.loads(found.group(0))
    except ValueError as exc:
        raise ValueError(f"the judge's reply is not valid JSON ({exc}): {_clip(text)!r}") from exc
    try:
        return JudgeVerdict.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "verdict"
        raise ValueError(f"invalid judge verdict: {where}: {first['msg']}") from exc


def verdict_for(rubric: JudgeRubric, reply: str) -> Verdict:
    try:
        verdict = parse_verdict(reply)
    except ValueError as exc:
        return Verdict(False, str(exc))
    ok = verdict.score >= rubric.min_score
    relation = ">=" if ok else "<"
    return Verdict(
        ok,
        f"judge score {verdict.score} {relation} {rubric.min_score}: {verdict.reason}",
        score=verdict.score,
    )


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
