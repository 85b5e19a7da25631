"""Lambda entry point: alert-topic notifications (SNS) and commands (the daily schedule, the operator CLI)."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import SnsModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, TypeAdapter

from claude_kit.aws import aws_client
from claude_kit.observability import logger, tracer
from claude_kit.spend_reasons import SpendReason
from spend_guard.guard import BatchConsumers, Outcome, SpendGuard, SpendSwitch
from spend_guard.settings import get_guard_settings


class GuardCommand(BaseModel):
    """What the schedule (`daily-reopen`) and `bin/kit spend-guard` (ops/guard_cli.py) send."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["status", "close", "reopen", "daily-reopen"]
    #: Words recorded with the change (the switch's `detail`).
    reason: str = "operator request"
    #: Which brake a `close` is (the switch's `reason` code, named in the chat API's 503).
    cause: SpendReason = "operator"
    requested_by: str = "unknown"
    rearm_alarms: bool = False


_EVENT: TypeAdapter[SnsModel | GuardCommand] = TypeAdapter(SnsModel | GuardCommand)


@cache
def get_spend_guard() -> SpendGuard:
    """Built once per container from settings; tests replace it with `get_spend_guard.cache_clear()` + env."""
    settings = get_guard_settings()
    return SpendGuard(
        switch=SpendSwitch(ssm=aws_client("ssm"), parameter_name=settings.spend_switch_parameter),
        consumers=BatchConsumers(
            lambda_client=aws_client("lambda"), mapping_ids=settings.batch_consumer_mappings
        ),
        cloudwatch=aws_client("cloudwatch"),
        brake_alarm_names=settings.spend_guard_alarm_names,
        budget_name=settings.spend_guard_budget_name,
        topic_arn=settings.spend_guard_topic_arn,
        auto_reopen=settings.spend_guard_auto_reopen,
        cancel_batches=_cancel_batches if settings.spend_guard_cancel_batches else None,
    )


def _cancel_batches() -> list[str]:
    from batch_jobs import clients
    from spend_guard.batches import cancel_open_batches

    return cancel_open_batches(clients.get_job_store(), clients.message_batches())


def run(command: GuardCommand, guard: SpendGuard) -> Outcome:
    match command.action:
        case "status":
            return guard.status()
        case "close":
            return guard.close(reason=command.cause, detail=command.reason, by=command.requested_by)
        case "reopen":
            return guard.reopen(
                reason=command.reason, by=command.requested_by, rearm_alarms=command.rearm_alarms
            )
        case "daily-reopen":
            return guard.daily_reopen()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    request = _EVENT.validate_python(event)
    guard = get_spend_guard()
    if isinstance(request, GuardCommand):
        outcomes = [run(request, guard)]
    else:
        outcomes = [guard.on_notification(rec.Sns.TopicArn, str(rec.Sns.Message)) for rec in request.Records]
    return {"outcomes": [outcome.model_dump(mode="json") for outcome in outcomes]}
