"""Scripted replies: the fake answers a matching request with a given text instead of its deterministic one.

Evals use them offline for judge verdicts and deliberately broken answers. A rule matches when every condition
it sets holds (substrings of the last user message and of the system prompt); the first matching rule wins,
for realtime calls and batch items alike. Set them from a test (`fake.script(ScriptedReply(...))`), over HTTP
(`POST /_fake/replies` with a JSON list of rules; each POST replaces the list), or in `FakeClaudeConfig`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from local.fake_claude.protocol import MessagesRequest


class ScriptedReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Substring of the last user message's text; None matches any.
    contains: str | None = None
    #: Substring of the system prompt's text; None matches any.
    system_contains: str | None = None
    text: Annotated[str, Field(min_length=1)]

    def matches(self, request: MessagesRequest) -> bool:
        if self.contains is not None and self.contains not in _text(request.messages[-1].content):
            return False
        return self.system_contains is None or self.system_contains in _text(request.system)


_RULES: TypeAdapter[list[ScriptedReply]] = TypeAdapter(list[ScriptedReply])


class ScriptError(ValueError):
    """Rules posted over HTTP that the fake cannot read."""


def parse_rules(body: Any) -> tuple[ScriptedReply, ...]:
    if not isinstance(body, list):
        raise ScriptError('expected a JSON list of rules, e.g. [{"contains": "refund", "text": "…"}]')
    try:
        return tuple(_RULES.validate_python(body))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ScriptError(f"invalid rule: {first['msg']} at {'.'.join(map(str, first['loc']))}") from exc


def scripted_text(rules: Sequence[ScriptedReply], request: MessagesRequest) -> str | None:
    """The text of the first rule matching `request`, or None to answer as usual."""
    return next((rule.text for rule in rules if rule.matches(request)), None)


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return " ".join(getattr(block, "text", "") or "" for block in content)
