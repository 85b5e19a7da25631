"""The stack that lets GitHub Actions deploy one environment, `claude-kit-<env>-ci-access` (docs/pipeline.md).

Synthesized only when `ci.github_repository` is set and the app runs with `-c ci_access=true`: a person with
administrator credentials deploys it once per environment (`make ci-access ENV=<env>`), and the workflow's
`make deploy` (`--all`) never sees it, so CI cannot widen its own access.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import App, CfnOutput, Environment, Stack
from constructs import Construct

from claude_kit import contract
from infra.config import EnvironmentConfig
from infra.constructs.cost_alarms import BILLING_REGION
from infra.constructs.github_deploy_access import GitHubDeployAccess


class CiAccessStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, env_name: str, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        ci = config.ci
        assert ci.github_repository is not None
        # The billing alarm of an environment outside us-east-1 deploys there too (infra/billing_stack.py).
        regions = sorted({config.region, BILLING_REGION})
        self.access = GitHubDeployAccess(
            self,
            "GitHub",
            env_name=env_name,
            repository=ci.github_repository,
            regions=regions,
            bootstrap_qualifier=ci.bootstrap_qualifier,
            existing_provider_arn=ci.github_oidc_provider_arn,
            secret_name=config.secret.existing_secret_name or contract.api_key_secret_name(env_name),
            switch_parameter_name=contract.switch_parameter_name(env_name),
        )
        CfnOutput(
            self,
            "DeployRoleArn",
            value=self.access.deploy_role.role_arn,
            description=f"GitHub environment '{env_name}' variable AWS_ROLE_ARN",
        )
        CfnOutput(
            self,
            "PlanRoleArn",
            value=self.access.plan_role.role_arn,
            description=f"GitHub environment '{env_name}-plan' variable AWS_ROLE_ARN",
        )


def ci_access_stack_name(env_name: str) -> str:
    return f"claude-kit-{env_name}-ci-access"


def add_ci_access_stack(app: App, *, env_name: str, config: EnvironmentConfig) -> CiAccessStack | None:
    if config.ci.github_repository is None:
        return None
    return CiAccessStack(
        app,
        ci_access_stack_name(env_name),
        env_name=env_name,
        config=config,
        env=Environment(account=config.account_or_none, region=config.region),
        description=f"claude-serverless-kit ({env_name}): GitHub Actions deploy access (OIDC)",
    )
