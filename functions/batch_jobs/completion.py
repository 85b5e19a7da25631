"""Telling the world a job is done: one EventBridge event per completed job on the configured bus.

EventBridge rather than SNS: callers route the event with a rule (to a Lambda, Step Functions, an SQS queue,
an API destination …) and filter on its detail, without the kit creating a topic per consumer.
"""

from __future__ import annotations

import json
from typing import Any

from batch_jobs.jobs import JobSummary
from claude_kit import contract

EVENT_SOURCE = contract.JOB_EVENT_SOURCE
EVENT_DETAIL_TYPE = contract.JOB_EVENT_DETAIL_TYPE


class CompletionPublishError(RuntimeError):
    """EventBridge did not accept the event; the job stays open so the next poll publishes again."""


class CompletionEvents:
    def __init__(self, events: Any, *, bus_name: str, environment: str) -> None:
        self._events = events
        self._bus_name = bus_name
        self._environment = environment

    def publish(self, summary: JobSummary) -> None:
        detail = {"environment": self._environment, **summary.to_dict()}
        response = self._events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": EVENT_DETAIL_TYPE,
                    "Detail": json.dumps(detail),
                    "EventBusName": self._bus_name,
                    "Resources": [],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise CompletionPublishError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
