"""Golden sets: versioned YAML files under evals/sets/, validated so a mistake names its file, line and field.

A set holds scenarios (a prompt or a conversation, optional system prompt and model, repeats) and what each
answer is expected to satisfy: deterministic checks, similarity to a reference, and LLM-as-judge rubrics.
docs/evals.md documents the format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

#: The Message Batches custom_id rule, with room for the repeat suffix batch mode adds ("-r12").
SCENARIO_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,56}$"

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Turn(_Strict):
    role: Literal["user", "assistant"]
    content: Annotated[str, Field(min_length=1)]


class LengthRange(_Strict):
    min_words: PositiveInt | None = None
    max_words: PositiveInt | None = None
    min_output_tokens: PositiveInt | None = None
    max_output_tokens: PositiveInt | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> LengthRange:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError(
                "give at least one of min_words, max_words, min_output_tokens, max_output_tokens"
            )
        return self


class Similarity(_Strict):
    reference: Annotated[str, Field(min_length=1)]
    #: Score from 0 (nothing in common) to 1 (same text), see ops/evals/similarity.py.
    min: Annotated[float, Field(ge=0, le=1)]


class JudgeRubric(_Strict):
    rubric: Annotated[str, Field(min_length=1)]
    #: Verdict scores run from 1 (fails the rubric) to 5 (fully meets it).
    min_score: Annotated[int, Field(ge=1, le=5)]


# Every expectation is a one-key mapping (`- contains: [...]`); the key picks its model.
class LengthCheck(_Strict):
    length: LengthRange


class ContainsCheck(_Strict):
    contains: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    case_sensitive: bool = False


class NotContainsCheck(_Strict):
    not_contains: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    case_sensitive: bool = False


class RegexCheck(_Strict):
    regex: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _compiles(self) -> RegexCheck:
        import re

        try:
            re.compile(self.regex)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return self


class ValidJsonCheck(_Strict):
    valid_json: Literal[True]


class JsonSchemaCheck(_Strict):
    json_schema: dict[str, Any]

    @model_validator(mode="after")
    def _is_a_schema(self) -> JsonSchemaCheck:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(self.json_schema)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from exc
        return self


class HeadingsCheck(_Strict):
    headings: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class StopReasonCheck(_Strict):
    stop_reason: Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"]


class MaxCostCheck(_Strict):
    max_cost_usd: NonNegativeFloat


class MaxLatencyCheck(_Strict):
    max_latency_ms: Annotated[float, Field(gt=0)]


class SimilarityCheck(_Strict):
    similar: Similarity


class JudgeCheck(_Strict):
    judge: JudgeRubric


_CHECKS: dict[str, type[_Strict]] = {
    "length": LengthCheck,
    "contains": ContainsCheck,
    "not_contains": NotContainsCheck,
    "regex": RegexCheck,
    "valid_json": ValidJsonCheck,
    "json_schema": JsonSchemaCheck,
    "headings": HeadingsCheck,
    "stop_reason": StopReasonCheck,
    "max_cost_usd": MaxCostCheck,
    "max_latency_ms": MaxLatencyCheck,
    "similar": SimilarityCheck,
    "judge": JudgeCheck,
}


def _check_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return next(kind for kind, model in _CHECKS.items() if isinstance(value, model))
    if isinstance(value, dict):
        return next((kind for kind in value if kind in _CHECKS), None)
    return None


Check = Annotated[
    Annotated[LengthCheck, Tag("length")]
    | Annotated[ContainsCheck, Tag("contains")]
    | Annotated[NotContainsCheck, Tag("not_contains")]
    | Annotated[RegexCheck, Tag("regex")]
    | Annotated[ValidJsonCheck, Tag("valid_json")]
    | Annotated[JsonSchemaCheck, Tag("json_schema")]
    | Annotated[HeadingsCheck, Tag("headings")]
    | Annotated[StopReasonCheck, Tag("stop_reason")]
    | Annotated[MaxCostCheck, Tag("max_cost_usd")]
    | Annotated[MaxLatencyCheck, Tag("max_latency_ms")]
    | Annotated[SimilarityCheck, Tag("similar")]
    | Annotated[JudgeCheck, Tag("judge")],
    Discriminator(
        _check_kind,
        custom_error_type="unknown_check",
        custom_error_message=f"each expectation is one of: {', '.join(_CHECKS)}",
    ),
]


def check_kind(check: Check) -> str:
    kind = _check_kind(check)
    assert kind is not None  # every validated check is one of _CHECKS
    return kind


class Scenario(_Strict):
    id: Annotated[str, Field(pattern=SCENARIO_ID_PATTERN)]
    description: str | None = None
    #: A single user message; or `conversation` for several turns (ending with the user's).
    prompt: Annotated[str, Field(min_length=1)] | None = None
    conversation: Annotated[list[Turn], Field(min_length=1)] | None = None
    system: str | None = None
    model: str | None = None
    max_tokens: PositiveInt | None = None
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    repeats: PositiveInt | None = None
    expect: Annotated[list[Check], Field(min_length=1)]

    @model_validator(mode="after")
    def _one_input(self) -> Scenario:
        if (self.prompt is None) == (self.conversation is None):
            raise ValueError("give either prompt or conversation")
        if self.conversation is not None and self.conversation[-1].role != "user":
            raise ValueError("conversation must end with a user turn")
        return self

    def messages(self) -> list[dict[str, Any]]:
        if self.prompt is not None:
            return [{"role": "user", "content": self.prompt}]
        return [turn.model_dump() for turn in self.conversation or ()]


class Defaults(_Strict):
    system: str | None = None
    #: None: the environment's default model.
    model: str | None = None
    max_tokens: PositiveInt = 1024
    repeats: PositiveInt = 1


class JudgeSettings(_Strict):
    #: A cheaper model grades the answers; it must be in the environment's allowed models.
    model: str = "claude-haiku-5-5"
    max_tokens: PositiveInt = 300


class Tolerances(_Strict):
    """How much worse than the baseline a scenario may get before the gate fails."""

    cost_increase_pct: NonNegativeFloat = 10.0
    output_tokens_increase_pct: NonNegativeFloat = 20.0
    latency_increase_pct: NonNegativeFloat = 50.0
    #: Added to the latency allowance: small baselines (a fake, a short answer) jitter by tens of ms.
    latency_slack_ms: NonNegativeFloat = 250.0
    error_rate_increase: Annotated[float, Field(ge=0, le=1)] = 0.0
    judge_score_drop: NonNegativeFloat = 0.5


class GoldenSet(_Strict):
    version: Literal[1]
    id: Annotated[str, Field(pattern=SCENARIO_ID_PATTERN)]
    description: str | None = None
    defaults: Defaults = Defaults()
    judge: JudgeSettings = JudgeSettings()
    tolerances: Tolerances = Tolerances()
    scenarios: Annotated[list[Scenario], Field(min_length=1)]


@dataclass(frozen=True)
class LoadedSet:
    path: Path
    golden: GoldenSet


class GoldenSetError(ValueError):
    """A golden file that cannot be used; the message names the file, line and field."""


def load_set(path: Path) -> LoadedSet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GoldenSetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else 1
        raise GoldenSetError(f"{path}:{line}: not valid YAML: {exc.problem}") from exc
    if node is None:
        raise GoldenSetError(f"{path}:1: the file is empty")
    lines: dict[tuple[str | int, ...], int] = {}
    data = _to_python(node, (), lines)
    try:
        golden = GoldenSet.model_validate(data)
    except ValidationError as exc:
        raise GoldenSetError(_describe(path, exc, lines)) from exc
    _check_unique_ids(path, golden, lines)
    return LoadedSet(path, golden)


def load_sets(paths: Iterable[Path]) -> list[LoadedSet]:
    """Every set, in the order given; a directory stands for its *.yaml files."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    if not files:
        raise GoldenSetError("no golden set files found (evals/sets/*.yaml)")
    loaded = [load_set(file) for file in files]
    seen: dict[str, Path] = {}
    for item in loaded:
        if (other := seen.setdefault(item.golden.id, item.path)) != item.path:
            raise GoldenSetError(f"{item.path}: set id {item.golden.id!r} is already used by {other}")
    return loaded


def _to_python(node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> Any:
    """Plain data from a YAML node, noting the line every mapping key and list item starts on."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            result[key] = _to_python(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, index), lines) for index, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _describe(path: Path, exc: ValidationError, lines: dict[tuple[str | int, ...], int]) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        # Discriminator tags repeat the key they were picked by; drop them from the location.
        loc = tuple(part for index, part in enumerate(error["loc"]) if not _is_tag(error["loc"], index))
        line = next(lines[loc[:end]] for end in range(len(loc), -1, -1) if loc[:end] in lines)
        problems.append(f"{path}:{line}: {_field(loc) or '(top level)'}: {error['msg']}")
    return "\n".join(problems)


def _is_tag(loc: tuple[str | int, ...], index: int) -> bool:
    """Pydantic puts the union's tag right after the list index inside `expect`."""
    return (
        index >= 2
        and loc[index - 2] == "expect"
        and isinstance(loc[index - 1], int)
        and loc[index] in _CHECKS
    )


def _field(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _check_unique_ids(path: Path, golden: GoldenSet, lines: dict[tuple[str | int, ...], int]) -> None:
    seen: set[str] = set()
    for index, scenario in enumerate(golden.scenarios):
        if scenario.id in seen:
            line = lines.get(("scenarios", index, "id"), 1)
            raise GoldenSetError(f"{path}:{line}: scenarios[{index}].id: {scenario.id!r} is used twice")
        seen.add(scenario.id)


def json_schema() -> dict[str, Any]:
    """The format as JSON Schema, for editors (evals/golden-set.schema.json); the loader checks more."""
    schema = GoldenSet.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Golden set (claude-serverless-kit evals, version 1)"
    return schema


if __name__ == "__main__":
    import json
    import sys

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
