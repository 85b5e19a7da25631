"""The brakes on both bills, as synthesized: the AWS budget scoped by the environment's cost-allocation tag,
one KMS key statement per publishing service, the spend guard's on-failure destination and alarm, the
consumers' right to park work and ask for a pause, and the hourly Claude bill function with its alarms."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from infra.config import ReconciliationConfig, load_environment
from infra.constructs.cost_alarms import COST_ALLOCATION_TAG
from infra.stack import add_environment
from tests.infra.conftest import CDK_CONTEXT, ENVIRONMENTS, SynthesizedEnvironment, resources, synth_context
from tests.infra.test_observability import alarm, topic_ref


def _statements(template: Template, kind: str) -> list[dict[str, Any]]:
    return [
        statement
        for props in resources(template, kind).values()
        for statement in props.get("KeyPolicy", props.get("PolicyDocument", {})).get("Statement", [])
    ]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_the_aws_budget_counts_only_this_environments_tagged_costs(env_name: str, templates) -> None:
    template = templates(env_name)
    # Given every resource tagged with the environment's cost-allocation tag ...
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"Tags": Match.array_with([{"Key": COST_ALLOCATION_TAG, "Value": env_name}])},
    )
    # ... then the budget filters on that tag's value (Budgets' `user:<key>$<value>` form)
    template.has_resource_properties(
        "AWS::Budgets::Budget",
        {
            "Budget": Match.object_like(
                {"CostFilters": {"TagKeyValue": [f"user:{COST_ALLOCATION_TAG}${env_name}"]}}
            )
        },
    )


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_cloudwatch_and_budgets_each_have_their_own_key_statement(env_name: str, templates) -> None:
    statements = _statements(templates(env_name), "AWS::KMS::Key")
    by_service = {
        statement["Principal"]["Service"]: statement
        for statement in statements
        if isinstance(statement.get("Principal", {}).get("Service"), str)
    }
    # CloudWatch with the condition its documentation gives (aws:SourceAccount) ...
    cloudwatch = by_service["cloudwatch.amazonaws.com"]
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert list(cloudwatch["Condition"]["StringEquals"]) == ["aws:SourceAccount"]
    # ... Budgets as its documentation writes it: no condition it might not send
    budgets = by_service["budgets.amazonaws.com"]
    assert budgets["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "Condition" not in budgets
    # and no statement grants both services at once
    assert not [s for s in statements if isinstance(s.get("Principal", {}).get("Service"), list)]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_a_guard_event_that_fails_every_attempt_lands_in_an_alarmed_queue(env_name: str, templates) -> None:
    template = templates(env_name)
    (config,) = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert config["MaximumRetryAttempts"] == 2
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    (queue_id,) = [
        logical_id
        for logical_id in template.find_resources("AWS::SQS::Queue")
        if destination == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]
    failed = alarm(template, f"claude-kit-{env_name}-spend-guard-failed")
    assert failed["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert failed["Threshold"] == 0
    assert failed["AlarmActions"] == [topic_ref(template)]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_a_consumer_may_park_its_records_and_ask_the_guard_to_pause(env_name: str, templates) -> None:
    template = templates(env_name)
    consumers = [
        props
        for props in resources(template, "AWS::Lambda::Function").values()
        if props.get("Handler") == "batch_jobs.consumer.handler"
    ]
    assert consumers
    for consumer in consumers:
        variables = consumer["Environment"]["Variables"]
        assert variables["KIT_SPEND_GUARD_FUNCTION"] == f"claude-kit-{env_name}-spend-guard"
        assert "KIT_QUEUE_URL" in variables
    invoke = [s for s in _statements(template, "AWS::IAM::Policy") if s["Action"] == "lambda:InvokeFunction"]
    assert any(
        f":function:claude-kit-{env_name}-spend-guard" in str(statement["Resource"]) for statement in invoke
    )
    assert [s for s in _statements(template, "AWS::IAM::Policy") if "sqs:SendMessage" in s["Action"]]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_the_claude_bill_runs_hourly_and_alarms_on_the_monthly_claude_budget(
    env_name: str, synthesized
) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    template = environment.template
    monthly = environment.config.alerts.claude_monthly_usd
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "reconciliation.handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "KIT_CLAUDE_MONTHLY_USD": str(monthly),
                        "KIT_SPEND_GUARD_FUNCTION": f"claude-kit-{env_name}-spend-guard",
                    }
                )
            },
        },
    )
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})
    props = alarm(template, f"claude-kit-{env_name}-monthly-claude-cost")
    assert (props["MetricName"], props["Statistic"], props["Threshold"]) == (
        "MonthToDateCostUSD",
        "Maximum",
        monthly,
    )
    # Reconciliation is off until an admin key is configured: no drift alarm
    names = [p["AlarmName"] for p in resources(template, "AWS::CloudWatch::Alarm").values()]
    assert f"claude-kit-{env_name}-claude-cost-drift" not in names


@pytest.fixture(scope="module")
def reconciling_dev(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """dev with reconciliation configured and batch cancelling on (one synth for both options)."""
    base = load_environment(CDK_CONTEXT["environments"], "dev")
    recon = ReconciliationConfig(
        admin_key_secret_name="/claude-kit/dev/anthropic-admin-key",
        anthropic_api_key_id="apikey_01Dev",
        drift_percent=7,
    )
    alerts = base.alerts.model_copy(update={"spend_guard_cancel_batches": True})
    config = base.model_copy(update={"reconciliation": recon, "alerts": alerts})
    app = App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk-reconciliation")))
    return Template.from_stack(add_environment(app, env_name="dev", config=config))


def test_with_an_admin_key_the_bill_reads_its_own_secret_and_alarms_on_drift(
    reconciling_dev: Template,
) -> None:
    template = reconciling_dev
    # Then the function knows the key id and secret, may read that secret (not the runtime key's) ...
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "reconciliation.handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "KIT_ADMIN_KEY_SECRET_NAME": "/claude-kit/dev/anthropic-admin-key",
                        "KIT_ANTHROPIC_API_KEY_ID": "apikey_01Dev",
                    }
                )
            },
        },
    )
    reads = [
        s for s in _statements(template, "AWS::IAM::Policy") if "secretsmanager:GetSecretValue" in s["Action"]
    ]
    assert any("anthropic-admin-key" in str(statement["Resource"]) for statement in reads)
    # ... and the drift and reported-cost alarms watch what it publishes
    drift = alarm(template, "claude-kit-dev-claude-cost-drift")
    assert (drift["MetricName"], drift["Threshold"]) == ("CostDriftPercent", 7)
    reported = alarm(template, "claude-kit-dev-reported-monthly-claude-cost")
    assert reported["MetricName"] == "ReportedMonthToDateCostUSD"


def test_batch_cancelling_gives_the_guard_the_key_and_the_open_batches(reconciling_dev: Template) -> None:
    template = reconciling_dev
    # Then the guard knows to cancel, where the key and the jobs table are, and may read both
    (guard,) = [
        props
        for props in resources(template, "AWS::Lambda::Function").values()
        if props.get("FunctionName") == "claude-kit-dev-spend-guard"
    ]
    variables = guard["Environment"]["Variables"]
    assert variables["KIT_SPEND_GUARD_CANCEL_BATCHES"] == "true"
    assert {"KIT_API_KEY_SECRET_NAME", "KIT_JOBS_TABLE"} <= set(variables)
    statements = _statements(template, "AWS::IAM::Policy")
    assert [s for s in statements if s["Action"] == "dynamodb:Query" and "/index/" in str(s["Resource"])]
