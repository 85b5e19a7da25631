"""Realtime runs: every repeat of every scenario on a bounded pool of threads, judged as it finishes.

`ClaudeService.create` is synchronous and thread-safe (its clients are built under a lock), so threads are
the simplest bounded concurrency; a Lambda's calls go through the same code.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from claude_kit.calls import CallContext
from claude_kit.errors import ClaudeError
from claude_kit.service import ClaudeService
from ops.evals.checks import Answer, Verdict, evaluate
from ops.evals.golden import GoldenSet, JudgeCheck, LoadedSet, Scenario
from ops.evals.judge import judge_request, verdict_for
from ops.evals.results import Run, ScenarioResult
from ops.evals.targets import JUDGE_ROUTE, CallFailedError, Prompt, Target

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Job:
    golden: GoldenSet
    scenario: Scenario
    repeat: int

    @property
    def request_id(self) -> str:
        return f"{self.golden.id}/{self.scenario.id}/{self.repeat}"


def plan(sets: Sequence[LoadedSet], repeats: int | None = None) -> list[tuple[ScenarioResult, list[Job]]]:
    """Each scenario's (empty) result and its repeats; `repeats` overrides the files' counts."""
    planned = []
    for loaded in sets:
        golden = loaded.golden
        for scenario in golden.scenarios:
            count = repeats or scenario.repeats or golden.defaults.repeats
            jobs = [Job(golden, scenario, repeat) for repeat in range(1, count + 1)]
            planned.append((ScenarioResult(golden.id, scenario), jobs))
    return planned


def run_realtime(
    sets: Sequence[LoadedSet],
    target: Target,
    judge: ClaudeService,
    *,
    concurrency: int = 4,
    repeats: int | None = None,
    progress: Progress | None = None,
) -> list[ScenarioResult]:
    planned = plan(sets, repeats)
    jobs = [job for _, scenario_jobs in planned for job in scenario_jobs]
    finished = itertools.count(1)
    lock = threading.Lock()

    def one(job: Job) -> Run:
        run = _run(job, target, judge)
        if progress is not None:
            with lock:
                progress(f"[{next(finished)}/{len(jobs)}] {job.request_id} {'error' if run.error else 'ok'}")
        return run

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="eval") as pool:
        runs = iter(pool.map(one, jobs))
        for result, scenario_jobs in planned:
            result.runs.extend(next(runs) for _ in scenario_jobs)
    return [result for result, _ in planned]


def _run(job: Job, target: Target, judge: ClaudeService) -> Run:
    try:
        answer = target.answer(Prompt.of(job.golden, job.scenario), job.request_id)
    except CallFailedError as exc:
        return Run(job.repeat, None, error=str(exc))
    verdicts: list[Verdict] = []
    judge_cost = 0.0
    for check in job.scenario.expect:
        if isinstance(check, JudgeCheck):
            verdict, cost = _judge(job, check, answer, judge)
            judge_cost += cost
            verdicts.append(verdict)
        else:
            verdicts.append(evaluate(check, answer))
    return Run(job.repeat, answer, tuple(verdicts), judge_cost_usd=judge_cost)


def _judge(job: Job, check: JudgeCheck, answer: Answer, judge: ClaudeService) -> tuple[Verdict, float]:
    request = judge_request(job.golden.judge, job.scenario, check.judge, answer.text)
    ctx = CallContext(route=JUDGE_ROUTE, user_id="eval", request_id=job.request_id)
    try:
        result = judge.create(request, ctx)
    except ClaudeError as exc:
        return Verdict(False, f"judge call failed: {exc.error_type}: {exc}"), 0.0
    return verdict_for(check.judge, result.text), result.cost_usd or 0.0
