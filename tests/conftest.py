"""Suite-wide guards: no real credentials, no real AWS, no real Anthropic key can leak into a test."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures.powertools",
    "tests.fixtures.claude_kit_factories",
    "tests.fixtures.fake_claude",
    "tests.fixtures.local_stack",
    "tests.fixtures.chat",
    "tests.fixtures.chat_page",
    "tests.fixtures.spend_guard",
]

# Placeholder credentials only: moto accepts anything, and nothing here may reach real AWS or Anthropic.
_PLACEHOLDER_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
}
_REMOVED_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
)

os.environ.update(_PLACEHOLDER_ENV)
for _name in _REMOVED_ENV:
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from the placeholder environment, whatever the previous test set."""
    for name, value in _PLACEHOLDER_ENV.items():
        monkeypatch.setenv(name, value)
    for name in _REMOVED_ENV:
        monkeypatch.delenv(name, raising=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs two workers, `--dist loadgroup`), each test module stays on one
    worker, so its module-scoped stack, browser or fake starts once; the infrastructure tests all share one
    worker, so the session's synth of every environment happens once."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        group = "infra" if module.startswith("tests/infra/") else module
        item.add_marker(pytest.mark.xdist_group(group))
