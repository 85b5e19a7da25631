"""Readiness checks on small hand-written templates: each item passes when its safeguard is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.config import EnvironmentConfig
from ops.readiness import monitoring, safeguards
from ops.readiness.report import Status
from ops.readiness.template_view import TemplateView
from ops.synthesis import SynthesizedEnvironment

SECRET = "/claude-kit/dev/anthropic-api-key"


def _view(resources: dict[str, Any], prod: EnvironmentConfig | None = None, **config: Any) -> TemplateView:
    environment = SynthesizedEnvironment(
        env_name="dev",
        config=EnvironmentConfig.model_validate(config),
        templates={"claude-kit-dev": {"Resources": resources}},
        all_configs={"dev": EnvironmentConfig(), "prod": prod or EnvironmentConfig()},
    )
    return TemplateView(environment)


def _function(**variables: str) -> dict[str, Any]:
    env = {"KIT_API_KEY_SECRET_NAME": SECRET, **variables}
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Environment": {"Variables": env}, "Timeout": 300},
    }


def _alarm(slug: str) -> dict[str, Any]:
    props = {"AlarmName": f"claude-kit-dev-{slug}", "AlarmActions": [{"Ref": "Topic"}]}
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


ALARMS = {slug: _alarm(slug) for slug in ("daily-cost", "cost-burn-rate")}
TOPIC = {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}


def test_cost_alarms_pass_only_when_a_person_is_subscribed() -> None:
    email = {
        "Type": "AWS::SNS::Subscription",
        "Properties": {"Protocol": "email", "TopicArn": {"Ref": "Topic"}},
    }
    guard = {
        "Type": "AWS::SNS::Subscription",
        "Properties": {"Protocol": "lambda", "TopicArn": {"Ref": "Topic"}},
    }

    unheard = monitoring.cost_alarms(_view({**ALARMS, **TOPIC, "Guard": guard}))
    heard = monitoring.cost_alarms(_view({**ALARMS, **TOPIC, "Guard": guard, "Email": email}))

    assert unheard.status is Status.FAIL
    assert "nobody is subscribed" in unheard.evidence
    assert heard.status is Status.PASS
    assert heard.evidence.endswith("email subscribers")


def test_disabled_alarm_actions_count_as_unheard() -> None:
    email = {
        "Type": "AWS::SNS::Subscription",
        "Properties": {"Protocol": "https", "TopicArn": {"Ref": "Topic"}},
    }
    alarms = {**ALARMS, "daily-cost": _alarm("daily-cost")}
    alarms["daily-cost"]["Properties"]["ActionsEnabled"] = False

    item = monitoring.cost_alarms(_view({**alarms, **TOPIC, "Email": email}))

    assert item.status is Status.FAIL
    assert "daily-cost" in item.evidence


def test_a_key_in_an_environment_variable_fails_naming_where() -> None:
    leaky = _view({"Fn": _function(SOME_SETTING="sk-ant-api03-abcdefghijkl")})
    named = _view({"Fn": _function(ANTHROPIC_API_KEY="anything")})
    clean = _view({"Fn": _function(KIT_MODEL="claude-sonnet-5-5")})

    assert safeguards.no_key_in_environment(leaky).status is Status.FAIL
    assert "Fn.SOME_SETTING" in safeguards.no_key_in_environment(leaky).evidence
    assert safeguards.no_key_in_environment(named).status is Status.FAIL
    assert safeguards.no_key_in_environment(clean).status is Status.PASS


def test_two_environments_sharing_one_secret_fail() -> None:
    shared = EnvironmentConfig.model_validate({"secret": {"existing_secret_name": "shared-key"}})

    item = safeguards.key_per_environment(
        _view({}, prod=shared, secret={"existing_secret_name": "shared-key"})
    )
    separate = safeguards.key_per_environment(_view({}, secret={"existing_secret_name": "dev-key"}))

    assert item.status is Status.FAIL
    assert "prod" in item.evidence
    assert separate.status is Status.PASS


def test_attested_spend_limit_passes_with_its_amount() -> None:
    missing = safeguards.anthropic_spend_limit(_view({}))
    attested = safeguards.anthropic_spend_limit(_view({}, claude={"workspace_spend_limit_usd": 250}))

    assert missing.status is Status.FAIL
    assert attested.status is Status.PASS
    assert "250 USD" in attested.evidence


def test_a_function_timeout_no_longer_than_one_claude_wait_fails() -> None:
    function = _function()
    function["Properties"]["Timeout"] = 60  # the client's read timeout is 60 s

    item = safeguards.timeouts(_view({"Consumer": function}))

    assert item.status is Status.FAIL
    assert "Consumer (60 s)" in item.evidence


def test_eval_baseline_is_found_where_the_eval_harness_writes_it(tmp_path: Path) -> None:
    view = _view({})
    assert monitoring.eval_baseline(view, root=tmp_path).status is Status.WARN

    (tmp_path / "evals" / "baselines").mkdir(parents=True)
    (tmp_path / "evals" / "baselines" / "dev.json").write_text("{}")

    assert monitoring.eval_baseline(view, root=tmp_path).status is Status.PASS
