"""What one answer is checked against: deterministic checks and similarity, each a verdict with its reason.

LLM-as-judge needs a Claude call, so it lives in ops/evals/judge.py; everything here is pure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ops.evals.golden import (
    Check,
    ContainsCheck,
    HeadingsCheck,
    JsonSchemaCheck,
    LengthCheck,
    MaxCostCheck,
    MaxLatencyCheck,
    NotContainsCheck,
    RegexCheck,
    SimilarityCheck,
    StopReasonCheck,
    ValidJsonCheck,
)
from ops.evals.similarity import similarity

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Answer:
    """One run of a scenario: the answer and what it cost; `latency_ms` is None in batch mode."""

    text: str
    stop_reason: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_ms: float | None
    ttft_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One check on one answer; `passed` None means the check could not apply (and counts as neither)."""

    passed: bool | None
    detail: str
    score: float | None = None


def evaluate(check: Check, answer: Answer) -> Verdict:
    match check:
        case LengthCheck(length=bounds):
            words = len(answer.text.split())
            problems = [
                problem
                for value, low, high, unit in (
                    (words, bounds.min_words, bounds.max_words, "words"),
                    (answer.output_tokens, bounds.min_output_tokens, bounds.max_output_tokens, "tokens"),
                )
                if (problem := _out_of_range(value, low, high, unit))
            ]
            summary = f"{words} words, {answer.output_tokens} output tokens"
            return Verdict(not problems, "; ".join(problems) or summary)
        case ContainsCheck(contains=needles, case_sensitive=sensitive):
            missing = [n for n in needles if not _find(answer.text, n, sensitive=sensitive)]
            return Verdict(not missing, f"missing {_quoted(missing)}" if missing else "all present")
        case NotContainsCheck(not_contains=needles, case_sensitive=sensitive):
            found = [n for n in needles if _find(answer.text, n, sensitive=sensitive)]
            return Verdict(not found, f"contains prohibited {_quoted(found)}" if found else "none present")
        case RegexCheck(regex=pattern):
            matched = re.search(pattern, answer.text, re.MULTILINE) is not None
            return Verdict(matched, f"/{pattern}/ {'matches' if matched else 'does not match'}")
        case ValidJsonCheck():
            return _json_verdict(answer.text)
        case JsonSchemaCheck(json_schema=schema):
            return _schema_verdict(answer.text, schema)
        case HeadingsCheck(headings=wanted):
            present = {match.group(2).strip().lower() for match in _HEADING.finditer(answer.text)}
            missing = [h for h in wanted if h.lstrip("#").strip().lower() not in present]
            return Verdict(not missing, f"missing heading {_quoted(missing)}" if missing else "all present")
        case StopReasonCheck(stop_reason=expected):
            ok = answer.stop_reason == expected
            return Verdict(ok, f"stop_reason {answer.stop_reason}" + ("" if ok else f", expected {expected}"))
        case MaxCostCheck(max_cost_usd=limit):
            if answer.cost_usd is None:
                return Verdict(False, "cost unknown: the model has no price in claude_kit/data/models.json")
            ok = answer.cost_usd <= limit
            return Verdict(ok, f"cost ${answer.cost_usd:.6f} {'<=' if ok else '>'} ${limit:g}")
        case MaxLatencyCheck(max_latency_ms=limit):
            if answer.latency_ms is None:
                return Verdict(None, "not measured: batch mode has no per-call latency")
            ok = answer.latency_ms <= limit
            return Verdict(ok, f"latency {answer.latency_ms:.0f} ms {'<=' if ok else '>'} {limit:g} ms")
        case SimilarityCheck(similar=spec):
            score = similarity(answer.text, spec.reference)
            ok = score >= spec.min
            return Verdict(ok, f"similarity {score:.2f} {'>=' if ok else '<'} {spec.min:g}", score=score)
    raise TypeError(f"{type(check).__name__} is not a deterministic check")  # judge: ops/evals/judge.py


def _out_of_range(value: int, low: int | None, high: int | None, unit: str) -> str | None:
    if low is not None and value < low:
        return f"{value} {unit}, expected at least {low}"
    if high is not None and value > high:
        return f"{value} {unit}, expected at most {high}"
    return None


def _find(text: str, needle: str, *, sensitive: bool) -> bool:
    return needle in text if sensitive else needle.casefold() in text.casefold()


def _quoted(items: list[str]) -> str:
    return ", ".join(repr(item) for item in items)


def _json_verdict(text: str) -> Verdict:
    try:
        json.loads(text)
    except ValueError as exc:
        return Verdict(False, f"not valid JSON: {exc}")
    return Verdict(True, "valid JSON")


def _schema_verdict(text: str, schema: dict[str, object]) -> Verdict:
    from jsonschema import Draft202012Validator

    try:
        document = json.loads(text)
    except ValueError as exc:
        return Verdict(False, f"not valid JSON: {exc}")
    error = next(iter(sorted(Draft202012Validator(schema).iter_errors(document), key=str)), None)
    if error is None:
        return Verdict(True, "matches the schema")
    return Verdict(False, f"schema violation at {error.json_path}: {error.message}")
