"""Tracing off costs nothing at cold start: no X-Ray SDK import; tracing on gets Powertools' real Tracer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aws_lambda_powertools import Tracer

from claude_kit.observability import tracer, tracing_enabled

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"

PROBE = """
import json, sys
import chat_api.app, batch_jobs.consumer, batch_jobs.poller, spend_guard.handler
from claude_kit.observability import tracer
print(json.dumps({
    "xray": sorted(name for name in sys.modules if name.startswith("aws_xray_sdk")),
    "tracer": type(tracer).__name__,
}))
"""


def _imports_at_init(**environment: str) -> dict[str, object]:
    """What a fresh interpreter imports for every function's entry point, in this environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_", "AWS_SAM"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=FUNCTIONS,
        env={**clean, "KIT_CHAT_SESSIONS_TABLE": "sessions", **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout.splitlines()[-1]))


def test_tracing_off_imports_no_x_ray_module_on_any_function_s_init_path():
    # Given tracing turned off (local runs, tests), as Powertools reads it
    # When every function's entry point is imported in a fresh interpreter
    found = _imports_at_init(POWERTOOLS_TRACE_DISABLED="true")

    # Then not one X-Ray SDK module was loaded, and the tracer is the pass-through one
    assert found == {"xray": [], "tracer": "_Untraced"}


def test_tracing_on_in_lambda_gets_powertools_tracer_and_the_x_ray_sdk():
    # Given a Lambda environment with tracing on (the deployed default: active tracing)
    found = _imports_at_init(LAMBDA_TASK_ROOT=str(FUNCTIONS))

    # Then the real Tracer is there, with the X-Ray SDK it needs
    assert found["tracer"] == Tracer.__name__
    assert "aws_xray_sdk.core" in found["xray"]  # type: ignore[operator]


def test_pass_through_decorators_leave_functions_and_their_results_unchanged():
    # Given tracing off in this test process
    assert not tracing_enabled()

    # When the kit's decorators wrap functions, bare and with options
    @tracer.capture_lambda_handler
    def handler(event: dict[str, int], context: object) -> int:
        return event["n"] + 1

    @tracer.capture_method(capture_response=False)
    def method(value: str) -> str:
        return value.upper()

    # Then the functions behave exactly as written
    assert handler({"n": 41}, None) == 42
    assert method("ok") == "OK"
    assert handler.__name__ == "handler"
