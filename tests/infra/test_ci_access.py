"""The GitHub Actions deploy access: OIDC trust for one repository and GitHub environment, nothing but the CDK
bootstrap roles (and readiness reads) behind it, cdk-nag and cfn-lint clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint_file

from infra.ci_access_stack import CiAccessStack, add_ci_access_stack
from infra.config import EnvironmentConfig
from infra.constructs.github_deploy_access import deploy_role_name, plan_role_name
from infra.nag import add_nag_checks
from tests.infra.conftest import actions, resources, role_statements, synth_context

pytestmark = pytest.mark.slow

REPOSITORY = "acme/claude-app"
PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def _config(**ci: Any) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {"account": "123456789012", "region": "eu-west-1", "ci": {"github_repository": REPOSITORY, **ci}}
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> CiAccessStack:
    app = App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk-ci")))
    created = add_ci_access_stack(app, env_name="prod", config=_config())
    assert created is not None
    add_nag_checks(app)
    return created


@pytest.fixture(scope="module")
def template(stack: CiAccessStack) -> Template:
    return Template.from_stack(stack)


def _role_id(template: Template, name: str) -> str:
    return next(
        lid for lid, props in resources(template, "AWS::IAM::Role").items() if props["RoleName"] == name
    )


@pytest.mark.parametrize(
    ("role", "github_environment"), [(deploy_role_name, "prod"), (plan_role_name, "prod-plan")]
)
def test_each_role_trusts_one_repository_and_one_github_environment(
    template: Template, role, github_environment
) -> None:
    props = resources(template, "AWS::IAM::Role")[_role_id(template, role("prod"))]

    (statement,) = props["AssumeRolePolicyDocument"]["Statement"]

    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:{github_environment}",
        }
    }
    assert props["MaxSessionDuration"] == 3600


def _assumable(template: Template, role_name: str) -> list[str]:
    statements = role_statements(template, _role_id(template, role_name))
    (assume,) = [s for s in statements if "sts:AssumeRole" in actions(s)]
    return sorted(json.dumps(resource) for resource in assume["Resource"])


def test_deploy_role_may_assume_only_the_bootstrap_roles_of_its_regions(template: Template) -> None:
    assumable = _assumable(template, deploy_role_name("prod"))

    # Four bootstrap roles in the environment's region and in us-east-1 (the billing alarm's stack)
    assert len(assumable) == 8
    for kind in ("deploy-role", "file-publishing-role", "image-publishing-role", "lookup-role"):
        for region in ("eu-west-1", "us-east-1"):
            assert sum(f"cdk-hnb659fds-{kind}-123456789012-{region}" in arn for arn in assumable) == 1


def test_plan_role_may_assume_only_the_lookup_roles(template: Template) -> None:
    assumable = _assumable(template, plan_role_name("prod"))

    assert len(assumable) == 2
    assert all("-lookup-role-" in arn for arn in assumable)


def test_no_role_can_do_more_than_assume_and_read(template: Template) -> None:
    granted = {
        action
        for role_id in resources(template, "AWS::IAM::Role")
        for statement in role_statements(template, role_id)
        for action in actions(statement)
    }

    assert granted == {
        "sts:AssumeRole", "cloudwatch:DescribeAlarms", "cloudwatch:ListMetrics", "ce:ListCostAllocationTags",
        "secretsmanager:DescribeSecret", "ssm:GetParameter",
    }  # fmt: skip
    template.resource_count_is("AWS::IAM::OIDCProvider", 1)


def test_an_existing_provider_is_imported_not_created(tmp_path: Path) -> None:
    app = App(context=synth_context(), outdir=str(tmp_path))
    stack = add_ci_access_stack(
        app, env_name="staging", config=_config(github_oidc_provider_arn=PROVIDER_ARN)
    )
    assert stack is not None

    template = Template.from_stack(stack)

    assert resources(template, "AWS::IAM::OIDCProvider") == {}
    trust = resources(template, "AWS::IAM::Role")[_role_id(template, deploy_role_name("staging"))]
    assert trust["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Federated": PROVIDER_ARN}


def test_no_repository_means_no_ci_access_stack(tmp_path: Path) -> None:
    app = App(context=synth_context(), outdir=str(tmp_path))

    assert add_ci_access_stack(app, env_name="dev", config=EnvironmentConfig()) is None


def test_cdk_nag_finds_nothing_unacknowledged(stack: CiAccessStack, nag_findings) -> None:
    assert nag_findings(stack) == []


def test_cfn_lint_finds_no_errors(template: Template, tmp_path: Path) -> None:
    path = tmp_path / "claude-kit-prod-ci-access.template.json"
    path.write_text(json.dumps(template.to_json(), indent=1))

    matches = lint_file(path, config=ManualArgs(regions=["eu-west-1"]))

    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []
