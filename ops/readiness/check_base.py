"""What every readiness check shares: its signature, the runtime defaults, one way to make an item."""

from __future__ import annotations

import re
from collections.abc import Callable

from claude_kit.settings import RuntimeSettings
from ops.readiness.report import Dimension, Item, Status
from ops.readiness.template_view import TemplateView

Check = Callable[[TemplateView], Item]
#: What an Anthropic key looks like (`sk-ant-api03-…`, admin keys `sk-ant-admin01-…`).
KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}")
KEY_VARIABLE = re.compile(r"(API_KEY|AUTH_TOKEN)$")
_DEFAULTS = RuntimeSettings.model_fields


def runtime_default(name: str) -> object:
    return _DEFAULTS[name].default


def make_item(
    check_id: str, dimension: Dimension, title: str, status: Status, evidence: str, fix: str = ""
) -> Item:
    return Item(check_id, dimension, title, status, evidence, "" if status is Status.PASS else fix)
