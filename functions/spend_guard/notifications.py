"""The two notification shapes that reach the alert topic: CloudWatch alarm JSON and AWS Budgets plain text.

Everything else published to the topic (other alarms' OK, test messages, an unknown future format) parses to
None or to a notification the guard does not act on: only a positive match ever stops spending.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

#: First line of every AWS Budgets notification.
_BUDGET_ANCHOR = "AWS Budget Notification"
_BUDGET_NAME = re.compile(r"^Budget Name:\s*(?P<name>\S.*?)\s*$", re.MULTILINE)
_ALERT_TYPE = re.compile(r"^Alert Type:\s*(?P<kind>ACTUAL|FORECASTED)\s*$", re.MULTILINE)
# Older messages state the type only in the sentence "... when the ACTUAL Cost associated with your ...".
_ALERT_TYPE_IN_TEXT = re.compile(r"when the (?P<kind>ACTUAL|FORECASTED) Cost")


class AlarmNotification(BaseModel):
    """The JSON CloudWatch publishes when an alarm changes state (only the fields the guard reads)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    AlarmName: str
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str = ""
    StateChangeTime: str | None = None


class BudgetNotification(BaseModel):
    model_config = ConfigDict(frozen=True)

    budget_name: str
    alert_type: Literal["ACTUAL", "FORECASTED"]


def parse_notification(message: str) -> AlarmNotification | BudgetNotification | None:
    if message.lstrip().startswith("{"):
        try:
            return AlarmNotification.model_validate_json(message)
        except ValidationError:
            return None
    if _BUDGET_ANCHOR not in message:
        return None
    name = _BUDGET_NAME.search(message)
    kind = _ALERT_TYPE.search(message) or _ALERT_TYPE_IN_TEXT.search(message)
    if name is None or kind is None:
        return None
    return BudgetNotification.model_validate({"budget_name": name["name"], "alert_type": kind["kind"]})
