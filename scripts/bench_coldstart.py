"""Cold start: the chat app's process start until `/health` answers, against `python3 -c "import anthropic"`.

Both in fresh processes with warm bytecode (as the Lambda bundle ships it), interleaved. The app's init
imports the SDK on purpose (SnapStart snapshots it): the ratio shows what the kit adds on top.
One extra start under `-X importtime` names the heaviest packages the init imports, and counts the
X-Ray SDK modules among them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from collections import Counter

from scripts.harness import BenchStack, ChatProcess, python_environment
from scripts.measure import BenchOptions, Measurement, summary

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def run(options: BenchOptions) -> list[Measurement]:
    ready: list[float] = []
    baseline: list[float] = []
    with BenchStack(words=1) as stack:
        environment = stack.process_environment()
        _start_ready(environment)  # writes the bytecode caches once
        _import_anthropic()
        for rep in range(options.repeat):
            for measure in (_start_ready, _import_anthropic)[:: 1 if rep % 2 == 0 else -1]:
                seconds = measure(environment) if measure is _start_ready else measure()
                (ready if measure is _start_ready else baseline).append(seconds)
        heaviest, xray = _init_imports(environment)
    ratios = [r / b for r, b in zip(ready, baseline, strict=True)]
    note = f"{options.repeat} pairs, interleaved; heaviest imports at init: {heaviest}"
    return [
        summary("coldstart", "process start → ready, / `import anthropic`", ratios, "×", note, limit=1.10),
        summary("coldstart", "process start → /health ready", [r * 1000 for r in ready], "ms", note),
        summary("coldstart", "python3 -c 'import anthropic'", [b * 1000 for b in baseline], "ms", note),
        Measurement(
            "coldstart",
            "X-Ray SDK modules imported at init (tracing off)",
            xray,
            "modules",
            "python -X importtime on the app's start",
            limit=0,
        ),
    ]


def _start_ready(environment: dict[str, str]) -> float:
    chat = ChatProcess(environment, logs=None)
    try:
        return chat.wait_ready()
    finally:
        chat.stop()


def _import_anthropic(_: object = None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import anthropic"], env=python_environment(), check=True)
    return time.perf_counter() - start


def _init_imports(environment: dict[str, str]) -> tuple[str, float]:
    """The top-level packages with the most cumulative import time, and how many aws_xray_sdk modules load."""
    with tempfile.TemporaryFile() as log:
        chat = ChatProcess({**environment, "PYTHONPROFILEIMPORTTIME": "1"}, logs=log)
        try:
            chat.wait_ready()
        finally:
            chat.stop()
        log.seek(0)
        output = log.read().decode(errors="replace")
    per_package: Counter[str] = Counter()
    xray = 0
    for match in _IMPORT_LINE.finditer(output):
        cumulative, indent, name = int(match[2]), len(match[3]), match[4]
        xray += name.startswith("aws_xray_sdk")
        if indent == 1:  # imported directly by the app's own start, not as a nested import
            per_package[name.split(".")[0]] += cumulative
    top = ", ".join(f"{name} {micros / 1000:.0f} ms" for name, micros in per_package.most_common(4))
    return top, float(xray)
