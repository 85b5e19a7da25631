"""The stacks of one environment, built from one construct per capability: read it as the wiring diagram."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, Environment, Stack, Tags
from constructs import Construct

from claude_kit import contract
from claude_kit.contract import Env
from infra.billing_stack import needs_billing_stack
from infra.config import EnvironmentConfig
from infra.constructs.alerts import AlertTopic
from infra.constructs.api_key_secret import ApiKeySecret
from infra.constructs.batch_queues import BatchQueues
from infra.constructs.chat_api import ChatApi
from infra.constructs.claude_bill import ClaudeBill
from infra.constructs.cost_alarms import COST_ALLOCATION_TAG, CostAlarms
from infra.constructs.observability import MonitoredQueue, Observability
from infra.constructs.spend_guard import SpendGuard
from infra.constructs.user_quota import UserQuota
from infra.lambda_function import claude_environment
from infra.nag import add_nag_checks
from infra.retention import removal_policy

PROJECT = "claude-serverless-kit"


class KitStack(Stack):
    """Everything one environment runs.

    `claude_environment` holds the `KIT_*` variables every Claude-calling function needs; such functions also
    need `api_key_secret.grant_read(function)`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, env_name: str, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.env_name = env_name
        self.config = config

        self.api_key_secret = ApiKeySecret(
            self,
            "ApiKeySecret",
            env_name=env_name,
            config=config.secret,
            removal_policy=removal_policy(config),
        )
        self.claude_environment = claude_environment(
            config, api_key_secret_name=self.api_key_secret.secret_name
        )
        self.chat = ChatApi(
            self,
            "ChatApi",
            env_name=env_name,
            config=config,
            api_key_secret=self.api_key_secret,
            claude_environment=self.claude_environment,
        )
        self.batch = BatchQueues(
            self,
            "BatchQueues",
            env_name=env_name,
            config=config,
            api_key_secret=self.api_key_secret,
            claude_environment=self.claude_environment,
        )
        self.batch.attach_jobs_reader(self.chat.function)  # GET /jobs/{job_id}
        self.chat.add_app_route("GET", "/jobs/{job_id}")

        # Money and monitoring come last: they watch, and brake, the functions built above.
        alerts = config.alerts
        self.alerts = AlertTopic(
            self,
            "Alerts",
            env_name=env_name,
            emails=alerts.emails,
            https_endpoints=alerts.https_subscriptions,
            removal_policy=removal_policy(config),
        )
        self.cost_alarms = CostAlarms(
            self,
            "CostAlarms",
            env_name=env_name,
            alerts=alerts,
            topic=self.alerts.topic,
            account_billing_alarm=not needs_billing_stack(config),
        )
        self.spend_guard = (
            SpendGuard(
                self,
                "SpendGuard",
                env_name=env_name,
                config=config,
                topic=self.alerts.topic,
                brake_alarms=self.cost_alarms.brake_alarms,
                budget_name=self.cost_alarms.budget_name,
                batch_consumer_mappings=self.batch.event_source_mapping_ids,
            )
            if alerts.spend_guard_enabled
            else None
        )
        if self.spend_guard and alerts.spend_guard_cancel_batches:
            # Closing also cancels Message Batches in flight: the guard reads open batches, calls Claude.
            for name, value in self.claude_environment.items():
                self.spend_guard.function.add_environment(name, value)
            self.spend_guard.function.add_environment(Env.SPEND_GUARD_CANCEL_BATCHES, "true")
            self.api_key_secret.grant_read(self.spend_guard.function)
            self.batch.attach_open_batches_reader(self.spend_guard.function)
        self.claude_bill = ClaudeBill(
            self,
            "ClaudeBill",
            env_name=env_name,
            config=config,
            topic=self.alerts.topic,
            spend_guard=self.spend_guard,
        )
        self.user_quota = (
            UserQuota(self, "UserQuota", env_name=env_name, config=config)
            if alerts.user_daily_usd_allowance is not None or alerts.user_daily_token_allowance is not None
            else None
        )
        # The chat app checks both guards before it answers, and settles each call with them.
        if self.spend_guard:
            self.spend_guard.attach(self.chat.function)
        if self.user_quota:
            self.user_quota.attach(self.chat.function)
        for queue_set in self.batch.queues.values():
            if self.spend_guard:
                self.spend_guard.attach_consumer(queue_set.consumer, queue_set.queue)
            # Batch mode submits without a user (a reservation could not be settled hours later, elsewhere).
            if self.user_quota and queue_set.config.mode == "realtime":
                self.user_quota.attach(queue_set.consumer)
        monitored_functions = {"spend-guard": self.spend_guard.function} if self.spend_guard else {}
        monitored_functions |= {f"batch-{name}-consumer": fn for name, fn in self.batch.consumers.items()}
        monitored_functions["batch-poller"] = self.batch.poller
        monitored_functions["claude-bill"] = self.claude_bill.function
        monitored_functions["chat"] = self.chat.function
        self.observability = Observability(
            self,
            "Observability",
            env_name=env_name,
            alerts=alerts,
            topic=self.alerts.topic,
            cost_alarms=self.cost_alarms,
            extra_alarms=(
                *self.claude_bill.alarms,
                *((self.spend_guard.failure_alarm,) if self.spend_guard else ()),
            ),
            functions=monitored_functions,
            queues=[
                MonitoredQueue(name=name, queue=queues.queue, dead_letter_queue=queues.dead_letter_queue)
                for name, queues in self.batch.queues.items()
            ],
        )


def add_environment(app: App, *, env_name: str, config: EnvironmentConfig) -> KitStack:
    """The stacks `cdk deploy -c env=<env_name>` deploys (app.py; tests/infra synthesize the same)."""
    stack = KitStack(
        app,
        contract.stack_name(env_name),
        env_name=env_name,
        config=config,
        # Account "unknown" leaves it unresolved: the stack deploys to the account of your credentials.
        env=Environment(account=config.account_or_none, region=config.region),
        description=f"{PROJECT} ({env_name}): Claude chat API, batch queues and cost guardrails",
        termination_protection=config.termination_protection,
    )
    Tags.of(app).add("Project", PROJECT)
    Tags.of(app).add("Environment", env_name)
    # The environment's AWS budget filters on this tag (activate it as a cost-allocation tag: docs/alarms.md).
    Tags.of(app).add(COST_ALLOCATION_TAG, env_name)
    add_nag_checks(app)
    return stack
