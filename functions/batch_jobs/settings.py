"""Settings of the batch queue functions and CLI, from the `KIT_*` environment variables the stack sets."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import Field

from batch_jobs.schema import ItemLimits
from claude_kit import contract
from claude_kit.settings import KitSettings, RuntimeSettings

#: SQS's classic message limit; infra/config.py `batch.queues[].max_message_bytes` sets the queue to match.
DEFAULT_MAX_MESSAGE_BYTES = 262_144
#: Room kept for the message attributes the enqueue helper adds (`job_items`).
ATTRIBUTE_ALLOWANCE_BYTES = 1_024


class BatchSettings(KitSettings):
    """Validated once per container; the CLI builds one for the `--env` it is given."""

    env_name: str = "local"
    #: The jobs/items table; defaults to the stack's name for it, so the CLI needs only `--env`.
    jobs_table: str | None = None
    results_bucket: str | None = None
    #: The queue this consumer serves (its config name, not the SQS name) and how it calls Claude.
    queue_name: str = "default"
    queue_mode: Literal["batch", "realtime"] = "batch"
    #: Set to skip the `get_queue_url` lookup of `claude-kit-<env>-<queue>`.
    queue_url: str | None = None
    max_message_bytes: Annotated[int, Field(ge=2 * ATTRIBUTE_ALLOWANCE_BYTES)] = DEFAULT_MAX_MESSAGE_BYTES
    results_expire_days: Annotated[int, Field(gt=0)] = 90
    #: EventBridge bus that receives one "Claude Batch Job Completed" event per finished job.
    event_bus_name: str = "default"
    #: A realtime item is not started with less time than this left in the invocation: it is redelivered.
    realtime_min_remaining_seconds: Annotated[float, Field(ge=0)] = 30.0
    #: While the spend switch is closed, a consumer whose mapping is still on parks each record as a copy
    #: that SQS hides this long (its maximum, 900) before delivering it again (batch_jobs/spend_pause.py).
    paused_redelivery_delay_seconds: Annotated[int, Field(ge=0, le=900)] = 900
    #: The spend guard function, asked to pause the consumers when one finds the switch closed.
    spend_guard_function: str | None = None

    @property
    def table_name(self) -> str:
        return self.jobs_table or contract.jobs_table_name(self.env_name)

    @property
    def max_item_bytes(self) -> int:
        return self.max_message_bytes - ATTRIBUTE_ALLOWANCE_BYTES

    def sqs_queue_name(self, queue: str | None = None) -> str:
        return contract.queue_name(self.env_name, queue or self.queue_name)


@cache
def get_batch_settings() -> BatchSettings:
    """The container's settings, read on first use (tests call `get_batch_settings.cache_clear()`)."""
    return BatchSettings()


def item_limits(runtime: RuntimeSettings, batch: BatchSettings) -> ItemLimits:
    """A deployment's limits for a work item: models and max_tokens from the runtime, size from the queue."""
    return ItemLimits(
        allowed_models=runtime.allowed_models,
        default_model=runtime.model,
        max_tokens_cap=runtime.max_tokens_cap,
        max_item_bytes=batch.max_item_bytes,
    )
