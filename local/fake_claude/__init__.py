"""A fake Anthropic API on 127.0.0.1: the real `anthropic` SDK talks to it unchanged through `base_url`.

Deterministic replies, streaming at a chosen pace, realistic usage and prompt caching, Message Batches on an
adjustable clock, and scriptable faults (429, 529, 500, cut and stalled streams, errored batch items).
"""

from local.fake_claude.config import KNOWN_MODELS, PLACEHOLDER_API_KEY, FakeClaudeConfig
from local.fake_claude.faults import Fault, FaultSpecError, parse_faults
from local.fake_claude.scripted import ScriptedReply
from local.fake_claude.server import FakeClaudeServer
from local.fake_claude.state import FakeClaude, RecordedRequest

__all__ = [
    "KNOWN_MODELS",
    "PLACEHOLDER_API_KEY",
    "FakeClaude",
    "FakeClaudeConfig",
    "FakeClaudeServer",
    "Fault",
    "FaultSpecError",
    "RecordedRequest",
    "ScriptedReply",
    "parse_faults",
]
