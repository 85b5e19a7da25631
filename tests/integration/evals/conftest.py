"""The eval runner wired to the fake Claude on a free port: the kit's runtime core with the real SDK."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from claude_kit.clients import ClaudeClients
from claude_kit.retry import RetryPolicy
from claude_kit.service import ClaudeService
from claude_kit.settings import RuntimeSettings
from claude_kit.telemetry import CallRecord
from local.fake_claude import PLACEHOLDER_API_KEY, FakeClaudeServer, ScriptedReply
from ops.evals.golden import LoadedSet, load_set
from ops.evals.results import ScenarioResult
from ops.evals.runner import run_realtime
from ops.evals.targets import CoreTarget

JUDGE = "You grade an AI assistant's answer"


@dataclass
class Evals:
    fake: FakeClaudeServer
    settings: RuntimeSettings
    clients: ClaudeClients
    service: ClaudeService
    records: list[CallRecord] = field(default_factory=list)
    progress: list[str] = field(default_factory=list)

    @classmethod
    def on(cls, fake: FakeClaudeServer) -> Evals:
        settings = RuntimeSettings(env_name="test", claude_base_url=fake.base_url)
        clients = ClaudeClients(api_key=lambda _force: PLACEHOLDER_API_KEY, base_url=fake.base_url)
        records: list[CallRecord] = []
        policy = RetryPolicy.from_settings(settings, sleep=lambda _seconds: None)
        service = ClaudeService(clients=clients, settings=settings, retry_policy=policy, emit=records.append)
        return cls(fake, settings, clients, service, records)

    def script(self, *rules: ScriptedReply) -> None:
        self.fake.configure(scripted_replies=rules)

    def run(self, loaded: LoadedSet, **options) -> list[ScenarioResult]:
        target = CoreTarget(self.service, self.settings.model)
        return run_realtime([loaded], target, self.service, progress=self.progress.append, **options)


@pytest.fixture
def evals(fake_claude: FakeClaudeServer) -> Evals:
    return Evals.on(fake_claude)


def write_set(tmp_path: Path, text: str, name: str = "set.yaml") -> LoadedSet:
    path = tmp_path / name
    path.write_text(text)
    return load_set(path)


def judged(scenario_id: str, score: int, reason: str = "Because.") -> ScriptedReply:
    return ScriptedReply(
        system_contains=JUDGE,
        contains=f"Scenario: {scenario_id}\n",
        text=f'{{"score": {score}, "reason": "{reason}"}}',
    )
