"""The Anthropic API key of one environment, kept in Secrets Manager and read by the functions at runtime.

The key never passes through CDK, CloudFormation or Lambda environment variables. The stack creates the
secret with a random placeholder; you store the real key once (docs/deploy.md) with
`aws secretsmanager put-secret-value --secret-id /claude-kit/<env>/anthropic-api-key --secret-string ...`
and deploys never overwrite it. Set `secret.existing_secret_name` in cdk.json to use a secret you manage
elsewhere instead.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from claude_kit import contract
from infra.config import SecretConfig
from infra.nag import acknowledge


class ApiKeySecret(Construct):
    """`.secret`, `.secret_name` (functions get it as KIT_API_KEY_SECRET_NAME), `grant_read` for readers."""

    def __init__(
        self, scope: Construct, construct_id: str, *, env_name: str, config: SecretConfig,
        removal_policy: RemovalPolicy,
    ) -> None:  # fmt: skip
        super().__init__(scope, construct_id)
        self.secret: secretsmanager.ISecret
        if config.existing_secret_name:
            self.secret_name = config.existing_secret_name
            self.secret = secretsmanager.Secret.from_secret_name_v2(self, "Imported", self.secret_name)
            return
        self.secret_name = contract.api_key_secret_name(env_name)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=self.secret_name,
            description=(
                f"Anthropic API key of claude-kit {env_name}. Created with a random placeholder: store the "
                f"real key with aws secretsmanager put-secret-value --secret-id {self.secret_name} "
                "--secret-string ..."
            ),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            reason=(
                "Anthropic API keys are issued in the Anthropic Console; no rotation Lambda can mint one. "
                "Rotate by creating a new key there and running put-secret-value: functions pick it up once "
                "their secret cache expires (secret.cache_ttl_seconds), then revoke the old key."
            ),
        )

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.secret.grant_read(grantee)
