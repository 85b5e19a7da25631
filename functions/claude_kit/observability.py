"""The one Logger and Tracer every function shares (Powertools reads POWERTOOLS_* variables).

Metrics are per call (`telemetry.record_call`: an EphemeralMetrics each), so no shared Metrics object exists.

Tracing is off outside Lambda or with POWERTOOLS_TRACE_DISABLED=true: local runs and tests need no X-Ray. Then
`tracer` only passes calls through, because Powertools' Tracer imports the X-Ray SDK even when disabled (tens
of milliseconds of every cold start, for nothing).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger, Tracer

from claude_kit import contract


def metrics_namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or contract.METRICS_NAMESPACE


def tracing_enabled() -> bool:
    """Powertools' own rule: in Lambda (not SAM or Chalice local), unless POWERTOOLS_TRACE_DISABLED is set."""
    return not Tracer._is_tracer_disabled()


class _Untraced:
    """The Tracer decorators the kit uses, as no-ops: with or without options, they return the function."""

    def capture_lambda_handler(self, function: Any = None, **_options: Any) -> Any:
        if function is None:
            return _unchanged
        return function

    capture_method = capture_lambda_handler


def _unchanged(function: Callable[..., Any]) -> Callable[..., Any]:
    return function


logger = Logger()
# Decided once, at import: the decorators are applied at import time, and the environment of a Lambda
# container does not change.
tracer: Tracer = Tracer() if tracing_enabled() else cast("Tracer", _Untraced())
