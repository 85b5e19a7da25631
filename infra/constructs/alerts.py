"""The alert topic of one environment: every alarm and budget notification goes here, people subscribe to it.

Encrypted with a customer managed key because CloudWatch and AWS Budgets cannot publish to a topic encrypted
with the AWS managed `alias/aws/sns` key; the key and topic policies let exactly those two services in, each
in its own statement with the conditions its documentation gives.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

CLOUDWATCH = "cloudwatch.amazonaws.com"
BUDGETS = "budgets.amazonaws.com"


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
        # One statement per publisher, each with the conditions that service is documented to send:
        # - CloudWatch alarms: aws:SourceAccount (CloudWatch user guide, "Amazon SNS topics encrypted with
        #   AWS KMS" for alarm actions; docs/alarms.md).
        # - AWS Budgets: its documentation gives the key statement without conditions (Cost Management user
        #   guide, "Creating an Amazon SNS topic for budget notifications" / encrypted topics) and puts the
        #   confused-deputy conditions (aws:SourceAccount, aws:SourceArn) on the topic policy, below. A key
        #   condition Budgets might not send would drop its notifications, and the brake on them, silently.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsPublish",
                principals=[iam.ServicePrincipal(BUDGETS)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
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
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        # As the Budgets documentation writes it ("Creating an Amazon SNS topic for budget notifications").
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsPublish",
                principals=[iam.ServicePrincipal(BUDGETS)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": f"arn:{Stack.of(self).partition}:budgets::{account}:*"},
                },
            )
        )

        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        for url in https_endpoints:
            self.topic.add_subscription(
                subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS)
            )
