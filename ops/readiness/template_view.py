"""Read-only questions about a synthesized environment's templates, in the kit's own terms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from claude_kit import contract
from claude_kit.contract import Env
from ops.synthesis import SynthesizedEnvironment

#: Subscription protocols that reach a person or a paging service (a Lambda subscriber is the spend guard).
HUMAN_PROTOCOLS = frozenset({"email", "email-json", "https", "http", "sms"})
_CDK_HASH = re.compile(r"[0-9A-F]{8}$")


def short_id(logical_id: str) -> str:
    """`ChatApiFunction015F1A27` → `ChatApiFunction`: readable evidence, stable across synths."""
    return _CDK_HASH.sub("", logical_id) or logical_id


@dataclass(frozen=True)
class Function:
    logical_id: str
    properties: dict[str, Any]

    @property
    def name(self) -> str:
        return short_id(self.logical_id)

    @property
    def environment(self) -> dict[str, Any]:
        variables = self.properties.get("Environment", {}).get("Variables", {})
        return variables if isinstance(variables, dict) else {}

    def setting(self, name: str) -> str | None:
        """A literal environment value (None when absent; `<reference>` when CloudFormation resolves it)."""
        value = self.environment.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else "<reference>"

    @property
    def calls_claude(self) -> bool:
        return Env.API_KEY_SECRET_NAME in self.environment

    @property
    def timeout_seconds(self) -> int:
        return int(self.properties.get("Timeout", 3))


class TemplateView:
    def __init__(self, synthesized: SynthesizedEnvironment) -> None:
        self.synthesized = synthesized

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.synthesized.resources(kind).items()
        }

    def functions(self) -> list[Function]:
        return [
            Function(lid, props) for lid, props in sorted(self.resources("AWS::Lambda::Function").items())
        ]

    def claude_functions(self) -> list[Function]:
        return [function for function in self.functions() if function.calls_claude]

    def alarms(self) -> dict[str, dict[str, Any]]:
        """Alarm properties by alarm name (the kit names every alarm `claude-kit-<env>-<slug>`)."""
        return {
            str(props.get("AlarmName", lid)): props
            for lid, props in self.resources("AWS::CloudWatch::Alarm").items()
        }

    def alarm(self, slug: str) -> dict[str, Any] | None:
        return self.alarms().get(contract.alarm_name(self.synthesized.env_name, slug))

    def human_subscriptions(self) -> dict[str, list[str]]:
        """Topic logical id → protocols of its subscribers that reach people."""
        subscribed: dict[str, list[str]] = {}
        for props in self.resources("AWS::SNS::Subscription").values():
            topic = props.get("TopicArn")
            protocol = str(props.get("Protocol", ""))
            if isinstance(topic, dict) and "Ref" in topic and protocol in HUMAN_PROTOCOLS:
                subscribed.setdefault(topic["Ref"], []).append(protocol)
        for lid, props in self.resources("AWS::SNS::Topic").items():
            for inline in props.get("Subscription", []) or []:
                if str(inline.get("Protocol", "")) in HUMAN_PROTOCOLS:
                    subscribed.setdefault(lid, []).append(str(inline["Protocol"]))
        return subscribed

    def notified_topics(self, alarm: dict[str, Any]) -> list[str]:
        """Logical ids of the topics an alarm's ALARM action publishes to."""
        if alarm.get("ActionsEnabled") is False:
            return []
        return [
            action["Ref"]
            for action in alarm.get("AlarmActions", []) or []
            if isinstance(action, dict) and "Ref" in action
        ]
