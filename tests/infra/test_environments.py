"""Every environment in cdk.json synthesizes to a template that deploys what its settings say, cleanly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cfnlint.api import ManualArgs, lint_file

from tests.infra.conftest import ENVIRONMENTS, Acknowledgement, SynthesizedEnvironment

pytestmark = pytest.mark.slow

#: Actions that support no resource-level permissions, the only ones allowed on Resource "*".
RESOURCELESS_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:GetMetricData"}


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_api_key_secret_has_the_documented_name_per_environment(env_name: str, templates) -> None:
    # Given the synthesized environment / When looking for the API key secret
    template = templates(env_name)

    # Then it is created under the name docs/deploy.md tells users to put the key into
    template.has_resource_properties(
        "AWS::SecretsManager::Secret", {"Name": f"/claude-kit/{env_name}/anthropic-api-key"}
    )


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_secret_follows_the_environment_removal_policy(env_name: str, synthesized) -> None:
    # Given an environment and its configured removal policy
    environment = synthesized(env_name)
    expected = "Retain" if environment.config.removal_policy == "retain" else "Delete"

    # Then deleting the stack keeps (prod) or deletes (dev) the secret
    environment.template.has_resource(
        "AWS::SecretsManager::Secret", {"DeletionPolicy": expected, "UpdateReplacePolicy": expected}
    )


def test_prod_keeps_its_data_and_refuses_deletion(synthesized) -> None:
    # Given prod as configured in cdk.json
    prod = synthesized("prod")

    # Then it retains its resources and is protected against `cdk destroy`
    assert prod.config.removal_policy == "retain"
    assert prod.stack.termination_protection is True
    prod.template.has_resource("AWS::SecretsManager::Secret", {"DeletionPolicy": "Retain"})


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_resources_are_tagged_with_project_and_environment(env_name: str, templates) -> None:
    templates(env_name).has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "Tags": Match.array_with(
                [
                    {"Key": "Environment", "Value": env_name},
                    {"Key": "Project", "Value": "claude-serverless-kit"},
                ]
            )
        },
    )


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_stack_is_named_after_its_environment_and_deploys_to_the_configured_region(
    env_name: str, synthesized
) -> None:
    environment = synthesized(env_name)

    assert environment.stack.stack_name == f"claude-kit-{env_name}"
    assert environment.stack.region == environment.config.region


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_cdk_nag_finds_nothing_unacknowledged(env_name: str, synthesized, nag_findings) -> None:
    # Given the synthesized environment / When the AwsSolutions pack checks the whole stack
    findings = nag_findings(synthesized(env_name).stack)

    # Then there is no error and no warning left
    assert findings == []


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_every_acknowledged_finding_gives_a_reason(env_name: str, synthesized, acknowledgements) -> None:
    # Given every cdk-nag acknowledgement in the environment's construct tree
    found: list[Acknowledgement] = acknowledgements(synthesized(env_name).stack)

    # Then there is at least the secret's, and each one explains itself in a sentence a reviewer can judge
    assert "AwsSolutions-SMG4" in {ack.rule for ack in found}
    too_short = [ack for ack in found if len(ack.reason.split()) < 8]
    assert too_short == []


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_cfn_lint_finds_no_errors(env_name: str, synthesized, tmp_path: Path) -> None:
    # Given the synthesized template written as a file, as `cfn-lint` would read it
    environment: SynthesizedEnvironment = synthesized(env_name)
    path = tmp_path / f"claude-kit-{env_name}.template.json"
    path.write_text(json.dumps(environment.template.to_json(), indent=1))

    # When cfn-lint checks it for the environment's region
    matches = lint_file(path, config=ManualArgs(regions=[environment.config.region]))

    # Then it reports no error (warnings and informational findings are not deploy blockers)
    errors = [f"{match.rule.id} {match.message}" for match in matches if match.rule.id.startswith("E")]
    assert errors == []


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_only_resourceless_actions_are_granted_on_every_resource(env_name: str, templates) -> None:
    # Given every IAM policy statement of the environment
    statements = _policy_statements(templates(env_name))

    # Then a statement on Resource "*" only grants actions that cannot be scoped to a resource (the reason
    # kit_python_function gives cdk-nag when it acknowledges AwsSolutions-IAM5[Resource::*])
    wildcard_actions = {
        action
        for statement in statements
        if "*" in _as_list(statement.get("Resource"))
        for action in _as_list(statement["Action"])
    }
    assert wildcard_actions <= RESOURCELESS_ACTIONS


def _policy_statements(template: Template) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for resource in template.find_resources(policy_type).values():
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    for role in template.find_resources("AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]
