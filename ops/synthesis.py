"""An environment's CloudFormation templates, synthesized in-process as `cdk synth -c env=NAME` builds them.

Readiness and cost read what will actually be deployed, so they synthesize the real app (app.py's stacks,
cdk-nag included) from cdk.json, with bundling skipped: the CDK then hashes the code asset's sources instead
of building it, so no Docker, no pip and no AWS account are needed (tests/infra synthesizes the same way).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import App

from claude_kit import contract
from infra.billing_stack import add_billing_stack
from infra.config import ConfigError, EnvironmentConfig, load_environment
from infra.stack import add_environment

REPO_ROOT = Path(__file__).resolve().parents[1]
CDK_JSON = REPO_ROOT / "cdk.json"

Template = dict[str, Any]


def cdk_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """cdk.json's context block (ConfigError, naming the file, when it is missing or not JSON)."""
    try:
        context = json.loads(path.read_text())["context"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: cannot read the CDK context ({exc})") from exc
    if not isinstance(context, dict):
        raise ConfigError(f"{path}: 'context' must be an object")
    return context


def environment_configs(context: Mapping[str, Any]) -> dict[str, EnvironmentConfig]:
    """Every environment of the context, validated (ConfigError names the first bad key)."""
    environments = context.get("environments")
    if not isinstance(environments, dict) or not environments:
        raise ConfigError("cdk.json: context key 'environments' must map environment names to settings")
    return {name: load_environment(environments, name) for name in environments}


@dataclass(frozen=True)
class SynthesizedEnvironment:
    """One environment: its validated settings and its stacks' templates, by stack name (main stack first)."""

    env_name: str
    config: EnvironmentConfig
    templates: Mapping[str, Template]
    #: Every environment of the same cdk.json (a check may compare them: one key per environment).
    all_configs: Mapping[str, EnvironmentConfig] = field(default_factory=dict)

    @property
    def main_template(self) -> Template:
        return self.templates[contract.stack_name(self.env_name)]

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every resource of CloudFormation type `kind` across the environment's stacks, by logical id."""
        return {
            logical_id: resource
            for template in self.templates.values()
            for logical_id, resource in template.get("Resources", {}).items()
            if resource.get("Type") == kind
        }


def synthesize(env_name: str, *, context: Mapping[str, Any] | None = None) -> SynthesizedEnvironment:
    """The stacks of `env_name` as app.py builds them. ConfigError for an unknown or invalid environment."""
    context = dict(cdk_context() if context is None else context)
    configs = environment_configs(context)
    if env_name not in configs:
        raise ConfigError(f"cdk.json: unknown environment {env_name!r}; known: {sorted(configs)}")
    config = configs[env_name]
    # The JSII warning about the Node.js version is noise for an operator command.
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    with tempfile.TemporaryDirectory(prefix=f"kit-synth-{env_name}-") as outdir:
        app = App(context={**context, "env": env_name, "aws:cdk:bundling-stacks": []}, outdir=outdir)
        add_environment(app, env_name=env_name, config=config)
        add_billing_stack(app, env_name=env_name, config=config)
        assembly = app.synth()
        templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    return SynthesizedEnvironment(env_name=env_name, config=config, templates=templates, all_configs=configs)


def synthesize_for_operator(env_name: str) -> SynthesizedEnvironment | None:
    """`synthesize` for a bin/kit command: says what it is doing on stderr, and a bad environment is one line
    there (then None: the command exits 2) rather than a traceback."""
    import sys

    sys.stderr.write(f"Synthesizing {contract.stack_name(env_name)} (no AWS account needed) ...\n")
    try:
        return synthesize(env_name)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return None
