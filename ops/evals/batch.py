"""Batch mode: the set's calls as Message Batches (half price), through the kit's batch queue code.

Each request is validated as a work item (`batch_jobs.schema`, the deployment's model allow-list and
max_tokens cap) and submitted with `batch_jobs.message_batches.MessageBatches` (the kit's client and retry
policy). The answers go out in one batch, the judge calls in a second once the answers are in. Verdicts are
the same as a realtime run's; latency is not measured (a batch item has none), so latency checks are skipped.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from batch_jobs.message_batches import MAX_BATCH_BYTES, MessageBatches
from batch_jobs.schema import ItemLimits, WorkItem
from claude_kit.calls import ClaudeRequest, Usage
from claude_kit.clients import ClaudeClients
from claude_kit.pricing import PriceTable, load_price_table
from claude_kit.retry import RetryPolicy
from claude_kit.settings import RuntimeSettings
from ops.evals.checks import Answer, Verdict, evaluate
from ops.evals.golden import JudgeCheck, LoadedSet
from ops.evals.judge import judge_request, verdict_for
from ops.evals.results import Run, ScenarioResult
from ops.evals.runner import Job, Progress, plan
from ops.evals.targets import Prompt


class BatchTimeoutError(Exception):
    """A batch did not end within the wait allowed; it keeps running and can be collected later."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    text: str | None
    stop_reason: str | None
    usage: Usage
    cost_usd: float | None
    error: str | None


@dataclass
class BatchRunner:
    batches: MessageBatches
    limits: ItemLimits
    prices: PriceTable
    poll_seconds: float = 30.0
    max_wait_seconds: float = 24 * 3600
    sleep: Callable[[float], None] = time.sleep
    progress: Progress | None = None

    def run(self, sets: Sequence[LoadedSet], repeats: int | None = None) -> list[ScenarioResult]:
        planned = plan(sets, repeats)
        # Opaque ids: scenario ids repeat across sets, and a custom_id has at most 64 characters.
        jobs = {f"item-{n}": job for n, job in enumerate(job for _, js in planned for job in js)}
        ids = {id(job): cid for cid, job in jobs.items()}
        answers = self._collect(
            {
                cid: Prompt.of(job.golden, job.scenario).request(self.limits.default_model)
                for cid, job in jobs.items()
            },
            "answers",
        )
        judge_requests: dict[str, ClaudeRequest] = {}
        for cid, job in jobs.items():
            outcome = answers[cid]
            if outcome.error is not None or outcome.text is None:
                continue
            for index, check in enumerate(job.scenario.expect):
                if isinstance(check, JudgeCheck):
                    request = judge_request(job.golden.judge, job.scenario, check.judge, outcome.text)
                    judge_requests[f"{cid}-j{index}"] = request
        verdicts = self._collect(judge_requests, "judge verdicts") if judge_requests else {}
        for result, scenario_jobs in planned:
            result.runs.extend(self._run(ids[id(job)], job, answers, verdicts) for job in scenario_jobs)
        return [result for result, _ in planned]

    def _run(self, cid: str, job: Job, answers: dict[str, _Outcome], judged: dict[str, _Outcome]) -> Run:
        outcome = answers[cid]
        if outcome.error is not None or outcome.text is None:
            return Run(job.repeat, None, error=outcome.error or "no answer")
        answer = Answer(
            text=outcome.text,
            stop_reason=outcome.stop_reason,
            input_tokens=outcome.usage.input_tokens,
            output_tokens=outcome.usage.output_tokens,
            cost_usd=outcome.cost_usd,
            latency_ms=None,
        )
        verdicts: list[Verdict] = []
        judge_cost = 0.0
        for index, check in enumerate(job.scenario.expect):
            if not isinstance(check, JudgeCheck):
                verdicts.append(evaluate(check, answer))
                continue
            verdict = judged[f"{cid}-j{index}"]
            judge_cost += verdict.cost_usd or 0.0
            if verdict.error is not None or verdict.text is None:
                verdicts.append(Verdict(False, f"judge call failed: {verdict.error}"))
            else:
                verdicts.append(verdict_for(check.judge, verdict.text))
        return Run(job.repeat, answer, tuple(verdicts), judge_cost_usd=judge_cost)

    def _collect(self, requests: dict[str, ClaudeRequest], what: str) -> dict[str, _Outcome]:
        """Submit one batch, wait for it to end, and read every item's outcome."""
        outcomes: dict[str, _Outcome] = {}
        items = []
        for cid, request in requests.items():
            try:
                items.append(_work_item(cid, request, self.limits))
            except ValidationError as exc:
                problem = "; ".join(error["msg"] for error in exc.errors(include_url=False))
                outcomes[cid] = _Outcome(None, None, Usage(), None, f"invalid_request_error: {problem}")
        if not items:
            return outcomes
        batch_id = self.batches.create(
            [{"custom_id": item.custom_id, "params": item.params.to_api()} for item in items]
        )
        self._say(f"batch {batch_id}: {len(items)} {what} submitted")
        waited = 0.0
        while (batch := self.batches.retrieve(batch_id)).processing_status != "ended":
            if waited >= self.max_wait_seconds:
                raise BatchTimeoutError(
                    f"batch {batch_id} has not ended after {waited:.0f} s; it is still running"
                )
            counts = batch.request_counts
            self._say(f"batch {batch_id}: {counts.processing} processing, {counts.succeeded} succeeded")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
        spool = io.BytesIO()
        self.batches.download_results(batch_id, spool)
        for item in items:
            outcomes[item.custom_id] = _Outcome(None, None, Usage(), None, "no result in the batch")
        for line in spool.getvalue().decode().splitlines():
            if line.strip():
                entry = json.loads(line)
                cid = entry["custom_id"]
                if cid in requests:
                    outcomes[cid] = self._outcome(requests[cid].model, entry["result"])
        self._say(f"batch {batch_id}: ended")
        return outcomes

    def _outcome(self, model: str, result: dict[str, Any]) -> _Outcome:
        if result.get("type") != "succeeded":
            error = (result.get("error") or {}).get("error") or {}
            kind = str(result.get("type"))
            detail = f"{error.get('type', kind)}: {error.get('message', f'batch item {kind}')}"
            return _Outcome(None, None, Usage(), None, detail)
        message = result["message"]
        raw = message.get("usage") or {}
        usage = Usage(
            input_tokens=raw.get("input_tokens") or 0,
            output_tokens=raw.get("output_tokens") or 0,
            cache_creation_input_tokens=raw.get("cache_creation_input_tokens") or 0,
            cache_read_input_tokens=raw.get("cache_read_input_tokens") or 0,
        )
        text = "".join(
            block.get("text", "") for block in message.get("content", []) if block.get("type") == "text"
        )
        cost = self.prices.cost(message.get("model") or model, usage, batch=True)
        return _Outcome(text, message.get("stop_reason"), usage, cost, None)

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)


def _work_item(custom_id: str, request: ClaudeRequest, limits: ItemLimits) -> WorkItem:
    """The request as the batch queue's work item: the same validation a queued item gets; max_tokens is
    capped first, as `ClaudeService` caps a realtime call's."""
    max_tokens = min(request.max_tokens, limits.max_tokens_cap)
    params: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens, "messages": request.messages}
    if request.system is not None:
        params["system"] = request.system
    return WorkItem.model_validate(
        {"custom_id": custom_id, "params": {**params, **request.params}}, context=limits
    )


def batch_runner(
    settings: RuntimeSettings, clients: ClaudeClients, *, poll_seconds: float, progress: Progress | None
) -> BatchRunner:
    """A runner with the kit's batch client, retry policy, prices and the deployment's limits."""
    limits = ItemLimits(
        allowed_models=settings.allowed_models,
        default_model=settings.model,
        max_tokens_cap=settings.max_tokens_cap,
        max_item_bytes=MAX_BATCH_BYTES,
    )
    return BatchRunner(
        MessageBatches(clients, RetryPolicy.from_settings(settings)),
        limits,
        load_price_table(settings.price_overrides),
        poll_seconds=poll_seconds,
        progress=progress,
    )
