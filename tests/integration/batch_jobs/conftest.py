"""Fixtures for batch queue integration tests (see support.py for the world they build)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.config import QueueConfig
from local.fake_claude import FakeClaudeServer
from tests.integration.batch_jobs.support import BatchWorld, batch_world


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, fake_claude: FakeClaudeServer) -> Iterator[BatchWorld]:
    """One batch-mode queue `default` (batch size 100) and one realtime queue `fast` (batch size 10)."""
    queues = (
        QueueConfig(name="default", mode="batch", batch_size=100, max_receive_count=3),
        QueueConfig(name="fast", mode="realtime", batch_size=10, max_receive_count=2),
    )
    yield from batch_world(monkeypatch, fake_claude, queues)
