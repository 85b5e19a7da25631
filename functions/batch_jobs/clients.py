"""Clients and stores of the batch functions, created once per container (or CLI run) on first use.

The AWS and Anthropic clients come from claude_kit. Tests call `reset()` after changing the environment, and
may replace `get_retry_policy` (sleeps) or `get_gate`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from batch_jobs.completion import CompletionEvents
from batch_jobs.message_batches import MessageBatches
from batch_jobs.results import ResultStore
from batch_jobs.settings import BatchSettings, get_batch_settings
from batch_jobs.store import JobStore
from claude_kit import aws
from claude_kit.aws import aws_client, dynamodb_table
from claude_kit.clients import get_clients
from claude_kit.contract import Env
from claude_kit.reservation import SpendGate, get_spend_gate
from claude_kit.retry import RetryPolicy
from claude_kit.service import ClaudeService
from claude_kit.settings import get_settings


def job_store_for(settings: BatchSettings) -> JobStore:
    return JobStore(dynamodb_table(settings.table_name), ttl_days=settings.results_expire_days)


@cache
def get_job_store() -> JobStore:
    return job_store_for(get_batch_settings())


@cache
def get_result_store() -> ResultStore:
    bucket = get_batch_settings().results_bucket
    if not bucket:
        raise RuntimeError(f"{Env.RESULTS_BUCKET} is not set: the stack sets it on every batch function")
    return ResultStore(aws_client("s3"), bucket)


@cache
def get_completion_events() -> CompletionEvents:
    settings = get_batch_settings()
    return CompletionEvents(
        aws_client("events"), bus_name=settings.event_bus_name, environment=settings.env_name
    )


@cache
def get_retry_policy() -> RetryPolicy:
    return RetryPolicy.from_settings(get_settings())


def get_gate() -> SpendGate:
    """The brakes the stack turns on for this function (spend switch, per-user quota)."""
    return get_spend_gate()


@cache
def get_service() -> ClaudeService:
    """Realtime mode's service: the kit's retry policy, telemetry and guards."""
    return ClaudeService(
        clients=get_clients(), settings=get_settings(), gate=get_gate(), retry_policy=get_retry_policy()
    )


def message_batches(remaining_seconds: Callable[[], float] | None = None) -> MessageBatches:
    """Cheap to build per invocation, so retries never sleep past that invocation's deadline."""
    return MessageBatches(get_clients(), get_retry_policy(), remaining_seconds=remaining_seconds)


def reset() -> None:
    """Forget every cached client, store and setting (tests; a CLI switching environments)."""
    factories = (get_job_store, get_result_store, get_completion_events, get_retry_policy, get_service)
    for factory in (*factories, get_batch_settings, get_settings, get_clients, get_spend_gate):
        factory.cache_clear()
    aws.reset()
