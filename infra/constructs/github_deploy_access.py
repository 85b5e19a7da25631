"""How GitHub Actions reaches one AWS account without stored keys: OIDC federation and two narrow roles.

A workflow job gets a short-lived token from GitHub naming its repository and its GitHub environment; AWS STS
trades it for the role whose trust policy names exactly that `repo:<owner/name>:environment:<env>` subject
(docs/pipeline.md). The deploy role may only assume the CDK bootstrap roles (`cdk bootstrap` made them, and
CloudFormation's execution role does the deploying), plus the reads `bin/kit readiness --live` makes. The plan
role, for the `<env>-plan` job a reviewer reads before approving, may only assume the lookup role (`cdk diff
--method template`) and make the same reads.
Sources: AWS IAM User Guide, "Configuring a role for GitHub OIDC identity provider" (audience
sts.amazonaws.com, the `token.actions.githubusercontent.com:sub` condition); CDK Developer Guide,
"Bootstrapping".
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.nag import acknowledge

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
#: CDK bootstrap roles: `cdk-<qualifier>-<kind>-<account>-<region>`.
DEPLOY_ROLE_KINDS = ("deploy-role", "file-publishing-role", "image-publishing-role", "lookup-role")
PLAN_ROLE_KINDS = ("lookup-role",)
#: What `bin/kit readiness --live` reads that has no resource-level permissions.
_RESOURCELESS_READS = ("cloudwatch:DescribeAlarms", "cloudwatch:ListMetrics", "ce:ListCostAllocationTags")


def deploy_role_name(env_name: str) -> str:
    return f"claude-kit-{env_name}-github-deploy"


def plan_role_name(env_name: str) -> str:
    return f"claude-kit-{env_name}-github-plan"


class GitHubDeployAccess(Construct):
    """`provider`; `deploy_role` for GitHub environment `<env>`, `plan_role` for `<env>-plan`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        repository: str,
        regions: Sequence[str],
        bootstrap_qualifier: str,
        existing_provider_arn: str | None = None,
        secret_name: str,
        switch_parameter_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # An account holds one provider per URL: a second environment in the same account imports it.
        self.provider: iam.IOidcProvider = (
            iam.OidcProviderNative.from_oidc_provider_arn(self, "Provider", existing_provider_arn)
            if existing_provider_arn
            else iam.OidcProviderNative(self, "Provider", url=GITHUB_OIDC_URL, client_ids=[AUDIENCE])
        )
        self.deploy_role = self._role(
            "DeployRole",
            deploy_role_name(env_name),
            repository,
            env_name,
            DEPLOY_ROLE_KINDS,
            regions,
            bootstrap_qualifier,
        )
        self.plan_role = self._role(
            "PlanRole",
            plan_role_name(env_name),
            repository,
            f"{env_name}-plan",
            PLAN_ROLE_KINDS,
            regions,
            bootstrap_qualifier,
        )
        for role in (self.deploy_role, self.plan_role):
            self._grant_readiness_reads(role, secret_name, switch_parameter_name)

    def _role(
        self,
        construct_id: str,
        role_name: str,
        repository: str,
        github_environment: str,
        kinds: Sequence[str],
        regions: Sequence[str],
        qualifier: str,
    ) -> iam.Role:
        subject = f"repo:{repository}:environment:{github_environment}"
        role = iam.Role(
            self,
            construct_id,
            role_name=role_name,
            description=f"GitHub Actions ({subject}) for claude-kit: assumes CDK bootstrap roles only",
            max_session_duration=Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                self.provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": subject}
                },
            ),
        )
        stack = Stack.of(self)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=[
                    stack.format_arn(
                        service="iam",
                        region="",
                        resource="role",
                        resource_name=f"cdk-{qualifier}-{kind}-{stack.account}-{region}",
                    )
                    for kind in kinds
                    for region in regions
                ],
            )
        )
        return role

    def _grant_readiness_reads(self, role: iam.Role, secret_name: str, switch_parameter_name: str) -> None:
        stack = Stack.of(self)
        secret_arn = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{secret_name}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=switch_parameter_name.lstrip("/")
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="ReadinessReads", actions=list(_RESOURCELESS_READS), resources=["*"])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadinessSecretVersions",
                actions=["secretsmanager:DescribeSecret"],
                resources=[secret_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadinessSpendSwitch", actions=["ssm:GetParameter"], resources=[parameter_arn]
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            reason=(
                "cloudwatch:DescribeAlarms, cloudwatch:ListMetrics and ce:ListCostAllocationTags support no "
                "resource-level permissions; they are read-only (bin/kit readiness --live)."
            ),
        )
        # cdk-nag names the ARN as synthesized: literal account and region when the environment sets them.
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:{region}:{account}:"
            f"secret:{secret_name}-*]",
            reason="Secrets Manager adds 6 random characters to secret ARNs; DescribeSecret reads no value.",
        )
