"""Each environment of cdk.json synthesized once per session, as `cdk synth -c env=<name>` does, unbundled.

Synthesis is slow (seconds per environment), so every infra test shares these results. The context is the real
cdk.json context plus `aws:cdk:bundling-stacks: []`, which makes the CDK hash the code asset's source instead
of bundling it (no Docker, no pip). cdk-nag runs on every synth: a finding fails the synth itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnElement
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra.config import EnvironmentConfig, load_environment
from infra.nag import ACKNOWLEDGED_RULES
from infra.stack import KitStack, add_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_CONTEXT: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
ENVIRONMENTS = tuple(CDK_CONTEXT["environments"])


def synth_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context, without bundling, for tests that build their own App."""
    return {**CDK_CONTEXT, "aws:cdk:bundling-stacks": [], **overrides}


@dataclass(frozen=True)
class SynthesizedEnvironment:
    config: EnvironmentConfig
    stack: KitStack
    template: Template

    def logical_id(self, construct: IConstruct) -> str:
        """The logical id of `construct`'s CloudFormation resource (a function, a table, a role ...)."""
        element = construct.node.default_child
        assert isinstance(element, CfnElement)
        return self.stack.get_logical_id(element)


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    """The properties of every resource of type `kind`, by logical id."""
    return {name: body["Properties"] for name, body in template.find_resources(kind).items()}


def role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement of the IAM policies attached to the role with logical id `role_id`."""
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    """A policy statement's actions as a list (CloudFormation writes a single one as a string)."""
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


@dataclass(frozen=True)
class Acknowledgement:
    path: str
    rule: str
    reason: str


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], SynthesizedEnvironment]:
    """`synthesized("prod")`: the environment's stack and template, built on first use."""

    @cache
    def synthesize(env_name: str) -> SynthesizedEnvironment:
        app = App(context=synth_context(env=env_name), outdir=str(tmp_path_factory.mktemp(f"cdk-{env_name}")))
        config = load_environment(CDK_CONTEXT["environments"], env_name)
        stack = add_environment(app, env_name=env_name, config=config)
        return SynthesizedEnvironment(config=config, stack=stack, template=Template.from_stack(stack))

    return synthesize


@pytest.fixture(params=ENVIRONMENTS)
def env(
    request: pytest.FixtureRequest, synthesized: Callable[[str], SynthesizedEnvironment]
) -> SynthesizedEnvironment:
    """Each environment in turn: a test taking `env` runs once per environment of cdk.json."""
    return synthesized(request.param)


@pytest.fixture(scope="session")
def templates(synthesized: Callable[[str], SynthesizedEnvironment]) -> Callable[[str], Template]:
    """`templates("dev")`: the synthesized KitStack template of that environment."""
    return lambda env_name: synthesized(env_name).template


@pytest.fixture(scope="session")
def nag_findings() -> Callable[[IConstruct], list[str]]:
    """`nag_findings(scope)`: unacknowledged AwsSolutions errors and warnings, as "rule at path" lines."""

    def findings(scope: IConstruct) -> list[str]:
        report = AwsSolutionsChecks().validate_scope(scope)
        return [
            f"{violation.rule_name} ({violation.severity}) at {resource.construct_path}"
            for violation in report.violations
            for resource in violation.violating_resources
        ]

    return findings


@pytest.fixture(scope="session")
def acknowledgements() -> Callable[[IConstruct], list[Acknowledgement]]:
    """`acknowledgements(scope)`: every cdk-nag finding acknowledged in the tree, with its reason."""

    def collect(scope: IConstruct) -> Iterator[Acknowledgement]:
        for construct in scope.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == ACKNOWLEDGED_RULES:
                    for rule, reason in entry.data.items():
                        # The CDK files cdk-nag rule ids under its generic "Annotation::" namespace.
                        rule_id = re.sub(r"^annotation::", "", rule, flags=re.IGNORECASE)
                        yield Acknowledgement(path=construct.node.path, rule=rule_id, reason=reason)

    return lambda scope: list(collect(scope))
