"""The gate end to end: `bin/kit eval --offline` saves a baseline, then fails a run that costs more or is
slower than the tolerances allow, printing the diff table; a malformed golden file stops it with one line."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters import constants as parameter_constants
from moto import mock_aws

from local.fake_claude import Fault
from ops.evals.baseline import compare, load_baseline, save_baseline
from ops.evals.cli import main
from tests.integration.evals.conftest import Evals, write_set

SET = """\
version: 1
id: gate
tolerances:
  {cost_increase_pct: 10, output_tokens_increase_pct: 20, latency_increase_pct: 50, latency_slack_ms: 100}
scenarios:
  - id: refund
    prompt: How long do refunds take?
    repeats: 2
    expect:
      - contains: [refund]
"""
SHORT = '- {contains: refunds take, text: "A refund takes 5 business days."}\n'
LONG_TEXT = (
    "A refund takes 5 business days after the item reaches our warehouse and passes inspection,"
    " then the bank needs another two or three days."
)
LONG = f'- {{contains: refunds take, text: "{LONG_TEXT}"}}\n'


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.yaml" for name in ("set", "short", "long")}
    paths["set"].write_text(SET)
    paths["short"].write_text(SHORT)
    paths["long"].write_text(LONG)
    paths["baseline"] = tmp_path / "baselines" / "ci.json"
    return paths


def run(files: dict[str, Path], replies: str, *extra: str) -> int:
    argv = [str(files["set"]), "--offline", "--fake-replies", str(files[replies])]
    return main([*argv, "--baseline", str(files["baseline"]), "--quiet", *extra])


def test_a_cost_regression_beyond_tolerance_fails_the_gate_with_a_diff_table(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a baseline saved from short answers
    assert run(files, "short", "--save-baseline") == 0
    assert "baseline saved to" in capsys.readouterr().out
    saved = load_baseline(files["baseline"])
    assert saved is not None
    assert saved["gate/refund"]["metrics"]["output_tokens"] == 6
    # When the same set runs again unchanged, the gate passes
    assert run(files, "short") == 0
    assert "0 regression(s)" in capsys.readouterr().out
    # When the answers get longer (more output tokens, so more cost) while every check still passes
    assert run(files, "long") == 1
    out = capsys.readouterr().out
    # Then the gate fails on cost and tokens, and the diff table says by how much
    regressed = [line.split()[:4] for line in out.splitlines() if line.endswith("REGRESSED")]
    assert [row[:2] for row in regressed] == [["gate/refund", "cost_usd"], ["gate/refund", "output_tokens"]]
    assert regressed[1][2:] == ["6", str(len(LONG_TEXT.split()))]  # the fake bills a token per word
    assert "1/1 scenarios passed, baseline: 2 regression(s)" in out


def test_the_json_report_carries_the_gate(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(files, "short", "--save-baseline") == 0
    capsys.readouterr()
    assert run(files, "long", "--json", "--report-dir", str(files["set"].parent / "out")) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert {row["metric"] for row in report["gate"] if row["regressed"]} == {"cost_usd", "output_tokens"}
    markdown = (files["set"].parent / "out" / "eval-report.md").read_text()
    assert markdown.startswith("### Claude evals: ❌ failed (local)")
    assert "| gate/refund | cost_usd |" in markdown
    assert json.loads((files["set"].parent / "out" / "eval-report.json").read_text())["ok"] is False


def test_a_latency_regression_beyond_tolerance_fails_the_gate(evals: Evals, tmp_path: Path) -> None:
    # Given a baseline whose p95 latency is 20 ms (allowed: 20 × 1.5 + 100 = 130 ms)
    loaded = write_set(tmp_path, SET)
    baseline = evals.run(loaded)
    path = tmp_path / "b.json"
    save_baseline(path, baseline, env="ci", target="core", mode="realtime")
    document = json.loads(path.read_text())
    document["scenarios"]["gate/refund"]["metrics"]["latency_p95_ms"] = 20.0
    path.write_text(json.dumps(document))
    # When every answer is held back 0.5 s (a lower bound on its latency, whatever the machine's load)
    evals.fake.inject(Fault.stall(seconds=0.5), Fault.stall(seconds=0.5))
    slow = evals.run(loaded)
    saved = load_baseline(path)
    assert saved is not None
    rows = compare(slow, saved, {"gate": loaded.golden.tolerances})
    # Then the latency figure regressed, and nothing else did
    assert [(row.metric, row.allowed) for row in rows if row.regressed] == [
        ("latency_p95_ms", "<= 130 ms (+50% +100 ms)")
    ]


def test_a_malformed_golden_file_stops_the_run_naming_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(SET.replace("repeats: 2", "repeats: -1"))
    assert main([str(broken), "--offline", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {broken}:8: scenarios[0].repeats: Input should be greater than 0\n"


def test_foreseeable_mistakes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--target", "chat", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "error: --target chat on this machine needs --chat-url (make local prints the chat API's URL)\n"
    )
    assert main(["--env", "dev", "--offline", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "error: --offline runs on this machine and is gated by local.json: drop --env dev\n"
    )
    assert main(["--env", "nowhere", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: cdk.json: unknown environment 'nowhere'")
    assert main([str(tmp_path / "none.yaml"), "--offline", "--quiet"]) == 2
    assert "none.yaml: cannot read" in capsys.readouterr().err


def test_an_unreadable_api_key_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an environment whose secret does not exist (moto: an empty account)
    with mock_aws():
        client = boto3.client("secretsmanager")
        monkeypatch.setitem(
            parameter_constants.DEFAULT_PROVIDERS, "secrets", SecretsProvider(boto3_client=client)
        )
        assert main(["--env", "dev", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        "error: Could not read the API key from secret '/claude-kit/dev/anthropic-api-key': "
        "check your AWS credentials and region, and the secret's value\n"
    )
