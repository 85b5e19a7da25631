"""Alarms wired to money and service health, the dashboard, saved queries, the spend guard and user quotas, as
each environment of cdk.json synthesizes them (and the billing stack of an environment outside us-east-1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from infra.billing_stack import BillingStack, add_billing_stack
from infra.config import AlertsConfig, load_environment
from infra.constructs.spend_guard import DAILY_REOPEN
from infra.stack import KitStack, add_environment
from tests.infra.conftest import CDK_CONTEXT, ENVIRONMENTS, SynthesizedEnvironment, resources, synth_context

pytestmark = pytest.mark.slow

NAMESPACE = "ClaudeServerlessKit"


def alarm(template: Template, name: str) -> dict[str, Any]:
    (found,) = [
        props
        for props in resources(template, "AWS::CloudWatch::Alarm").values()
        if props["AlarmName"] == name
    ]
    return found


def topic_ref(template: Template) -> dict[str, str]:
    (topic,) = template.find_resources("AWS::SNS::Topic")
    return {"Ref": topic}


def claude_metric(name: str, env_name: str, **fields: Any) -> dict[str, Any]:
    return {
        "Namespace": NAMESPACE,
        "MetricName": name,
        "Dimensions": [{"Name": "Environment", "Value": env_name}],
        **fields,
    }


def dashboard(template: Template) -> dict[str, Any]:
    """The dashboard body as JSON; CloudFormation references inside strings read as "<ref>"."""
    (props,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    parts = props["DashboardBody"]["Fn::Join"][1]
    return dict(json.loads("".join(part if isinstance(part, str) else "<ref>" for part in parts)))


def widgets_by_title(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {widget["properties"].get("title", ""): widget for widget in body["widgets"]}


# -- alert topic ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_alert_topic_is_encrypted_refuses_plain_http_and_lets_alarms_and_budgets_publish(
    env_name: str, templates
) -> None:
    template = templates(env_name)
    # Then the topic uses the kit's own KMS key (CloudWatch cannot publish to one under alias/aws/sns) ...
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    # ... the topic policy denies non-TLS publishing and allows exactly CloudWatch and Budgets in this account
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        ),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "sns:Publish",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": {"StringEquals": {"aws:SourceAccount": Match.any_value()}},
                            }
                        ),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "sns:Publish",
                                "Principal": {"Service": "budgets.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": Match.any_value()},
                                    "ArnLike": {"aws:SourceArn": Match.any_value()},
                                },
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_alert_emails_and_https_endpoints_subscribe_to_the_topic(tmp_path_factory) -> None:
    # Given an environment with an e-mail and an HTTPS alert subscriber
    alerts = AlertsConfig(
        emails=("ops@example.com",), https_subscriptions=("https://events.example.com/sns",)
    )
    config = load_environment(CDK_CONTEXT["environments"], "dev").model_copy(update={"alerts": alerts})
    app = App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk-subscribers")))
    # When it is synthesized
    template = Template.from_stack(add_environment(app, env_name="dev", config=config))
    # Then both subscribe to the alert topic
    for protocol, endpoint in (("email", "ops@example.com"), ("https", "https://events.example.com/sns")):
        template.has_resource_properties(
            "AWS::SNS::Subscription",
            {"Protocol": protocol, "Endpoint": endpoint, "TopicArn": topic_ref(template)},
        )


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_recovers(env_name: str, templates) -> None:
    template = templates(env_name)
    topic = topic_ref(template)
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 12
    for props in alarms.values():
        assert props["AlarmActions"] == [topic], props["AlarmName"]
        assert props["OKActions"] == [topic], props["AlarmName"]


# -- cost alarms and budget ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_daily_cost_alarm_sums_claude_spend_over_24_hours_against_the_configured_threshold(
    env_name: str, synthesized
) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    props = alarm(environment.template, f"claude-kit-{env_name}-daily-cost")
    assert {key: props[key] for key in ("Namespace", "MetricName", "Dimensions", "Statistic", "Period")} == (
        claude_metric("CostUSD", env_name, Statistic="Sum", Period=86400)
    )
    assert props["Threshold"] == environment.config.alerts.claude_daily_usd
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["EvaluationPeriods"] == 1
    assert props["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_burn_rate_alarm_projects_the_last_hour_over_a_day(env_name: str, synthesized) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    props = alarm(environment.template, f"claude-kit-{env_name}-cost-burn-rate")
    expression, hourly = props["Metrics"]
    assert expression["Expression"] == "24 * hourly"
    assert hourly["Id"] == "hourly"
    assert hourly["MetricStat"] == {
        "Metric": claude_metric("CostUSD", env_name),
        "Period": 3600,
        "Stat": "Sum",
    }
    assert props["Threshold"] == environment.config.alerts.claude_daily_usd
    assert props["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_monthly_budget_warns_at_80_percent_forecast_and_at_100_percent_actual(
    env_name: str, synthesized
) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    environment.template.has_resource_properties(
        "AWS::Budgets::Budget",
        {
            "Budget": {
                "BudgetName": f"claude-kit-{env_name}",
                "BudgetType": "COST",
                "TimeUnit": "MONTHLY",
                "BudgetLimit": {"Amount": environment.config.alerts.aws_monthly_budget_usd, "Unit": "USD"},
            },
            "NotificationsWithSubscribers": [
                {
                    "Notification": {
                        "NotificationType": kind,
                        "ComparisonOperator": "GREATER_THAN",
                        "Threshold": percent,
                        "ThresholdType": "PERCENTAGE",
                    },
                    "Subscribers": [{"SubscriptionType": "SNS", "Address": topic_ref(environment.template)}],
                }
                for kind, percent in (("FORECASTED", 80), ("ACTUAL", 100))
            ],
        },
    )


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_account_billing_alarm_is_in_the_main_stack_of_a_us_east_1_environment(
    env_name: str, synthesized
) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    assert environment.config.region == "us-east-1"
    props = alarm(environment.template, f"claude-kit-{env_name}-aws-estimated-charges")
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Period"]) == (
        "AWS/Billing",
        "EstimatedCharges",
        "Maximum",
        86400,
    )
    # Missing data is INSUFFICIENT_DATA, told to the topic: a member account never has billing data
    assert props["TreatMissingData"] == "missing"
    assert props["InsufficientDataActions"] == [topic_ref(environment.template)]
    assert props["Dimensions"] == [{"Name": "Currency", "Value": "USD"}]
    assert props["Threshold"] == environment.config.alerts.aws_monthly_budget_usd


@pytest.fixture(scope="module")
def outside_us_east_1(tmp_path_factory) -> tuple[KitStack, BillingStack]:
    """dev moved to eu-west-1, synthesized as app.py does: the main stack and the us-east-1 billing stack."""
    config = load_environment(CDK_CONTEXT["environments"], "dev").model_copy(update={"region": "eu-west-1"})
    app = App(context=synth_context(), outdir=str(tmp_path_factory.mktemp("cdk-eu")))
    main = add_environment(app, env_name="dev", config=config)
    billing = add_billing_stack(app, env_name="dev", config=config)
    assert billing is not None
    app.synth()
    return main, billing


def test_outside_us_east_1_the_billing_alarm_moves_to_a_us_east_1_stack_with_its_own_topic(
    outside_us_east_1, nag_findings
) -> None:
    main, billing = outside_us_east_1
    # Then the main stack has no billing alarm ...
    names = [
        props["AlarmName"]
        for props in resources(Template.from_stack(main), "AWS::CloudWatch::Alarm").values()
    ]
    assert "claude-kit-dev-aws-estimated-charges" not in names
    # ... and the billing stack, in us-east-1, alarms on EstimatedCharges to its own encrypted topic
    assert billing.region == "us-east-1"
    template = Template.from_stack(billing)
    props = alarm(template, "claude-kit-dev-aws-estimated-charges")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Billing", "EstimatedCharges")
    assert props["AlarmActions"] == props["OKActions"] == [topic_ref(template)]
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    assert nag_findings(billing) == []


# -- service alarms ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_error_rate_alarm_is_errors_over_calls_in_percent(env_name: str, synthesized) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    props = alarm(environment.template, f"claude-kit-{env_name}-error-rate")
    by_id = {metric["Id"]: metric for metric in props["Metrics"]}
    assert by_id["expr_1"]["Expression"] == "100 * FILL(errors, 0) / calls"
    for metric_id, name in (("errors", "Errors"), ("calls", "Calls")):
        assert by_id[metric_id]["MetricStat"] == {
            "Metric": claude_metric(name, env_name),
            "Period": 300,
            "Stat": "Sum",
        }
    assert props["Threshold"] == environment.config.alerts.error_rate_percent
    assert props["EvaluationPeriods"] == 3
    assert props["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    ("slug", "metric", "statistic", "threshold_of", "evaluation", "datapoints"),
    [
        ("latency-p99", "LatencyMs", {"ExtendedStatistic": "p99"}, "latency_p99_ms", 3, 2),
        ("ttft-p95", "TimeToFirstTokenMs", {"ExtendedStatistic": "p95"}, "ttft_p95_ms", 3, 2),
        ("throttles", "Throttles", {"Statistic": "Sum"}, "throttles_per_5_minutes", 1, None),
        ("fallbacks", "Fallbacks", {"Statistic": "Sum"}, "fallbacks_per_5_minutes", 1, None),
        ("batch-items-expired", "BatchItemsExpired", {"Statistic": "Sum"}, None, 1, None),
        ("unknown-model-cost", "UnknownModelCost", {"Statistic": "Sum"}, None, 1, None),
    ],
)
def test_service_alarm_watches_its_metric_with_the_configured_threshold(
    synthesized, slug: str, metric: str, statistic: dict[str, str], threshold_of: str | None, evaluation: int,
    datapoints: int | None,
) -> None:  # fmt: skip
    prod: SynthesizedEnvironment = synthesized("prod")
    props = alarm(prod.template, f"claude-kit-prod-{slug}")
    assert {
        key: props[key] for key in ("Namespace", "MetricName", "Dimensions", *statistic)
    } == claude_metric(metric, "prod", **statistic)
    assert props["Period"] == (3600 if slug == "unknown-model-cost" else 300)
    expected = getattr(prod.config.alerts, threshold_of) if threshold_of else 0
    assert props["Threshold"] == expected
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["EvaluationPeriods"] == evaluation
    assert props.get("DatapointsToAlarm") == datapoints
    assert props["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_each_function_alarms_on_any_error_or_throttle(env_name: str, templates) -> None:
    template = templates(env_name)
    functions = template.find_resources("AWS::Lambda::Function")
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    for logical_id in functions:
        watching = {
            stat["Metric"]["MetricName"]
            for props in alarms
            for stat in [
                metric["MetricStat"] for metric in props.get("Metrics", []) if "MetricStat" in metric
            ]
            if stat["Metric"]["Namespace"] == "AWS/Lambda"
            and stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]
            and props["Threshold"] == 0
        }
        assert watching == {"Errors", "Throttles"}, logical_id


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_each_queue_alarms_on_dead_letters_and_on_old_messages(env_name: str, synthesized) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    alarms = resources(environment.template, "AWS::CloudWatch::Alarm").values()
    for queue in environment.config.batch.queues:
        dead_letters = alarm(
            environment.template,
            f"claude-kit-{env_name}-queue-{queue.name}-DLQ-Queue-Message-Count-Max-Critical",
        )
        oldest = alarm(
            environment.template, f"claude-kit-{env_name}-queue-{queue.name}-Queue-Message-Age-Max-Warning"
        )
        for props, metric, threshold in (
            (dead_letters, "ApproximateNumberOfMessagesVisible", 0),
            (oldest, "ApproximateAgeOfOldestMessage", environment.config.alerts.oldest_message_age_seconds),
        ):
            (watched,) = props["Metrics"]
            assert watched["MetricStat"]["Metric"]["Namespace"] == "AWS/SQS"
            assert watched["MetricStat"]["Metric"]["MetricName"] == metric
            assert watched["MetricStat"]["Stat"] == "Maximum"
            assert props["Threshold"] == threshold
            assert props["TreatMissingData"] == "notBreaching"
    assert len(list(alarms)) >= 2 * len(environment.config.batch.queues)


# -- spend guard and quotas ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_spend_guard_listens_to_the_topic_and_brakes_on_the_daily_cost_alarm_and_the_budget(
    env_name: str, synthesized
) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    template = environment.template
    (daily_cost,) = [
        logical_id
        for logical_id, props in resources(template, "AWS::CloudWatch::Alarm").items()
        if props["AlarmName"] == f"claude-kit-{env_name}-daily-cost"
    ]
    template.has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": f"/claude-kit/{env_name}/spend-switch",
            "Type": "String",
            "Value": Match.string_like_regexp('"open"'),
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": f"claude-kit-{env_name}-spend-guard",
            "Handler": "spend_guard.handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "KIT_SPEND_SWITCH_PARAMETER": Match.any_value(),
                        "KIT_SPEND_GUARD_ALARM_NAMES": {"Fn::Join": ["", ['["', {"Ref": daily_cost}, '"]']]},
                        "KIT_SPEND_GUARD_BUDGET_NAME": f"claude-kit-{env_name}",
                        "KIT_SPEND_GUARD_TOPIC_ARN": topic_ref(template),
                        "KIT_SPEND_GUARD_AUTO_REOPEN": json.dumps(
                            environment.config.alerts.spend_guard_auto_reopen_daily
                        ),
                    }
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "lambda", "TopicArn": topic_ref(template)}
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": Match.array_with(["ssm:GetParameter", "ssm:PutParameter"])}
                        ),
                        Match.object_like(
                            {
                                "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:SetAlarmState"],
                                "Resource": {"Fn::GetAtt": [daily_cost, "Arn"]},
                            }
                        ),
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_spend_guard_may_pause_exactly_the_batch_consumers_event_source_mappings(
    env_name: str, templates
) -> None:
    template = templates(env_name)
    mappings = [
        {"Ref": logical_id} for logical_id in template.find_resources("AWS::Lambda::EventSourceMapping")
    ]
    assert mappings
    (guard,) = [
        props
        for props in resources(template, "AWS::Lambda::Function").values()
        if props.get("FunctionName") == f"claude-kit-{env_name}-spend-guard"
    ]
    listed = guard["Environment"]["Variables"]["KIT_BATCH_CONSUMER_MAPPINGS"]["Fn::Join"][1]
    assert [part for part in listed if isinstance(part, dict)] == mappings
    grants = [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["PolicyDocument"]["Statement"]
        if "lambda:UpdateEventSourceMapping" in statement["Action"]
    ]
    (grant,) = grants
    assert grant["Action"] == ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"]
    arns = grant["Resource"] if isinstance(grant["Resource"], list) else [grant["Resource"]]
    # arn:<partition>:lambda:<region>:<account>:event-source-mapping:<the mapping's UUID>
    assert [arn["Fn::Join"][1][-2:] for arn in arns] == [[":event-source-mapping:", ref] for ref in mappings]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_spend_guard_reopens_daily_at_00_05_utc_when_configured(env_name: str, synthesized) -> None:
    environment: SynthesizedEnvironment = synthesized(env_name)
    rules = resources(environment.template, "AWS::Events::Rule").values()
    schedules = [rule for rule in rules if rule.get("ScheduleExpression") == "cron(5 0 * * ? *)"]
    assert len(schedules) == int(environment.config.alerts.spend_guard_auto_reopen_daily)
    for rule in schedules:
        (target,) = rule["Targets"]
        assert json.loads(target["Input"]) == DAILY_REOPEN


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_user_quota_table_keys_usage_by_user_and_day_and_expires_it(env_name: str, templates) -> None:
    templates(env_name).has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            # Named, so `bin/kit usage|quota --env ENV` finds it (local/guardrails.py names it alike).
            "TableName": f"claude-kit-{env_name}-user-quota",
            "KeySchema": [
                {"AttributeName": "user_id", "KeyType": "HASH"},
                {"AttributeName": "day", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "Replicas": [
                Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
            ],
        },
    )


# -- dashboard and saved queries -----------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_dashboard_shows_alarm_states_and_the_claude_widgets(env_name: str, templates) -> None:
    template = templates(env_name)
    template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": f"claude-kit-{env_name}"}
    )
    widgets = widgets_by_title(dashboard(template))
    # Every alarm of the stack is on the alarm status widget
    alarm_count = len(template.find_resources("AWS::CloudWatch::Alarm"))
    assert widgets["Alarms"]["type"] == "alarm"
    assert len(widgets["Alarms"]["properties"]["alarms"]) == alarm_count
    for title in (
        "Claude cost, last 24 h (USD)",
        "AWS charges this month (USD, all services)",
        "Claude cost per hour by model and route (USD)",
        "Tokens in and out",
        "Prompt cache hit ratio (%)",
        "Claude call latency (ms)",
        "Time to first token (ms)",
        "Calls and error rate",
        "Errors by type",
        "Retries, fallbacks and 429s",
        "Rate-limit headroom (lowest remaining)",
        "Calls refused by the spend guard and user quotas",
        "Batch items",
    ):
        assert title in widgets, title
    # Per-model and per-route cost is found at render time
    (search,) = widgets["Claude cost per hour by model and route (USD)"]["properties"]["metrics"]
    assert search[0]["expression"].startswith(
        f'SEARCH(\'{{{NAMESPACE},Environment,Model,Route}} MetricName="CostUSD"'
    )
    latency = widgets["Claude call latency (ms)"]["properties"]["metrics"]
    assert [metric[-1]["stat"] for metric in latency] == ["p50", "p95", "p99"]
    assert widgets["Errors by type"]["type"] == "log"


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_saved_queries_read_the_claude_call_log_line_of_every_function(env_name: str, templates) -> None:
    template = templates(env_name)
    queries = {props["Name"]: props for props in resources(template, "AWS::Logs::QueryDefinition").values()}
    assert set(queries) == {
        f"claude-kit/{env_name}/{name}"
        for name in ("cost-by-user", "slowest-calls", "errors-by-type", "cache-misses-on-long-prompts")
    }
    function_log_groups = [
        function["Properties"]["LoggingConfig"]["LogGroup"]
        for function in template.find_resources("AWS::Lambda::Function").values()
    ]
    for props in queries.values():
        assert 'filter message = "Claude call"' in props["QueryString"]
        assert sorted(map(str, props["LogGroupNames"])) == sorted(map(str, function_log_groups))
    assert "by user_id" in queries[f"claude-kit/{env_name}/cost-by-user"]["QueryString"]
    assert "sort latency_ms desc" in queries[f"claude-kit/{env_name}/slowest-calls"]["QueryString"]
    assert (
        "cache_read_input_tokens = 0"
        in queries[f"claude-kit/{env_name}/cache-misses-on-long-prompts"]["QueryString"]
    )
