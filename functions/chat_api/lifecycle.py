"""SnapStart: what one snapshot must not hand to every execution environment restored from it.

The app runs as a separate process behind the Lambda Web Adapter, so the Python runtime's own hooks
(`snapshot_restore_py.register_after_restore`) never fire in it. The adapter (1.1+) relays the SnapStart
lifecycle over HTTP instead: it POSTs to the paths in `AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH` and
`AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH`, and answers 403 to anyone else asking for them. See docs/chat.md.
"""

from __future__ import annotations

import random

from aws_lambda_powertools.utilities import parameters

from chat_api.conversation import get_conversation
from chat_api.sessions import get_session_store
from claude_kit import aws, contract
from claude_kit.clients import get_clients
from claude_kit.reservation import get_spend_gate
from claude_kit.service import get_claude_service

BEFORE_CHECKPOINT_PATH = contract.SNAPSTART_BEFORE_CHECKPOINT_PATH
AFTER_RESTORE_PATH = contract.SNAPSTART_AFTER_RESTORE_PATH


async def release_per_environment_state() -> None:
    """Close the connections to Claude, drop every client (AWS's too) and the cached API key, reseed `random`.

    Before a snapshot: nothing per-environment (connections, the key) goes into it. After a restore: every
    copy starts its own connections and its own retry jitter. The next request rebuilds what it needs; nothing
    here does I/O but closing sockets, well within the 10 s Lambda gives a restore.
    """
    if get_conversation.cache_info().currsize:
        await get_conversation().aclose()
    for factory in (get_conversation, get_session_store, get_claude_service, get_clients, get_spend_gate):
        factory.cache_clear()
    aws.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # Powertools' cache holds the secret's value
    random.seed()
