"""The alert topic of one environment: every alarm and budget notification goes here, people subscribe to it.

Encrypted with a customer managed key because CloudWatch and AWS Budgets cannot publish to a topic encrypted
with the AWS managed `alias/aws/sns` key; the key and topic policies let exactly those two services in.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

#: Services that publish alarm and budget notifications to the topic.
_PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")


class AlertTopic(Construct):
    """`topic` receives ALARM and OK notifications; `key` encrypts it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        emails: Sequence[str] = (),
        https_endpoints: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account

        self.key = kms.Key(
            self,
            "Key",
            description=f"claude-kit {env_name}: encrypts the alert topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmAndBudgetPublishers",
                principals=[iam.ServicePrincipal(service) for service in _PUBLISHERS],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )

        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"claude-kit {env_name} alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl replaces the default topic policy, so the publishing services need an explicit allow.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmAndBudgetPublishers",
                principals=[iam.ServicePrincipal(service) for service in _PUBLISHERS],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )

        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        for url in https_endpoints:
            self.topic.add_subscription(
                subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS)
            )
