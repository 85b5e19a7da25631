"""Scheduled poller Lambda (`batch_jobs.poller.handler`): collects ended Message Batches, completes jobs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from batch_jobs import clients
from batch_jobs.collection import BatchCollector
from batch_jobs.settings import get_batch_settings
from claude_kit.observability import logger, tracer

#: A batch is not started with less time than this left: a half-collected batch is only finished next run.
MIN_REMAINING_SECONDS = 60


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(_event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    def remaining_seconds() -> float:
        return context.get_remaining_time_in_millis() / 1000

    settings = get_batch_settings()
    collector = BatchCollector(
        jobs=clients.get_job_store(),
        results=clients.get_result_store(),
        batches=clients.message_batches(remaining_seconds),
        events=clients.get_completion_events(),
        environment=settings.env_name,
        lease_seconds=remaining_seconds() + MIN_REMAINING_SECONDS,
        remaining_seconds=remaining_seconds,
        min_remaining_seconds=MIN_REMAINING_SECONDS,
    )
    return asdict(collector.poll())
