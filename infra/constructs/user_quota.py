"""Per-user daily allowances: one DynamoDB table of usage per user per UTC day, plus per-user overrides.

Key (`user_id`, `day`): `day` is the ISO date of a usage item, or "allowance" for an override item holding
`daily_usd` and/or `daily_tokens`. Usage items expire (TTL `expires_at`) 35 days after their day.
See claude_kit.user_quota and claude_kit.reservation for how calls reserve and settle.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from claude_kit import contract
from claude_kit.contract import Env
from infra.config import EnvironmentConfig
from infra.function_environment import quota_environment
from infra.tables import kit_table


class UserQuota(Construct):
    """`table`; `attach(fn)` makes a function enforce the allowances."""

    def __init__(
        self, scope: Construct, construct_id: str, *, env_name: str, config: EnvironmentConfig
    ) -> None:
        super().__init__(scope, construct_id)
        self._alerts = config.alerts
        self.table = kit_table(
            self,
            "Table",
            config=config,
            definition=contract.USER_QUOTA_TABLE,
            table_name=contract.quota_table_name(env_name),
        )

    def attach(self, function: lambda_.Function) -> None:
        function.add_environment(Env.QUOTA_TABLE, self.table.table_name)
        for name, value in quota_environment(self._alerts).items():
            function.add_environment(name, value)
        # Reads the user's override, reserves before a call and settles after: nothing else.
        self.table.grant(function, "dynamodb:GetItem", "dynamodb:UpdateItem")
