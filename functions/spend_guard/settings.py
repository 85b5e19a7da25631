"""The guard function's settings, from `KIT_*` variables the SpendGuard construct sets."""

from __future__ import annotations

from functools import cache

from claude_kit.settings import KitSettings


class SpendGuardSettings(KitSettings):
    env_name: str
    spend_switch_parameter: str
    #: Alarms whose ALARM closes the switch (JSON list).
    spend_guard_alarm_names: tuple[str, ...] = ()
    #: The AWS Budgets budget whose ACTUAL notification closes the switch.
    spend_guard_budget_name: str | None = None
    #: Only notifications from this topic are acted on.
    spend_guard_topic_arn: str | None = None
    #: Reopen when the alarm that closed the switch is OK again, and once a day (the schedule).
    spend_guard_auto_reopen: bool = False
    #: SQS event source mapping UUIDs of the batch consumers, paused while the switch is closed (JSON list).
    batch_consumer_mappings: tuple[str, ...] = ()
    #: Closing also cancels the Message Batches in flight (needs the jobs table and the API key).
    spend_guard_cancel_batches: bool = False


@cache
def get_guard_settings() -> SpendGuardSettings:
    return SpendGuardSettings()
