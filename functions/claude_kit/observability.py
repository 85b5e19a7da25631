"""The one Logger and Tracer every function shares (Powertools reads POWERTOOLS_* variables).

Metrics are per call (`telemetry.record_call`: an EphemeralMetrics each), so no shared Metrics object exists.

Tracing is a no-op outside Lambda or with POWERTOOLS_TRACE_DISABLED=true: local runs and tests need no X-Ray.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Tracer

DEFAULT_METRICS_NAMESPACE = "ClaudeServerlessKit"


def metrics_namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE


logger = Logger()
tracer = Tracer()
