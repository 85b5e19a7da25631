"""With `alerts.spend_guard_cancel_batches`, closing the switch cancels the Message Batches in flight: their
items end CANCELED (nothing more is billed for them) and the requeue command runs them after reopening."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from batch_jobs import clients
from local.fake_claude import FakeClaudeServer
from ops import kit as cli
from spend_guard.batches import cancel_open_batches
from tests.integration.batch_jobs.support import BatchWorld, work_item


def test_canceled_batches_leave_canceled_items_that_requeue_and_succeed(
    world: BatchWorld, fake_claude: FakeClaudeServer, tmp_path: Path, capsys
) -> None:
    # Given 6 items submitted as a Message Batch that the API is still processing
    fake_claude.configure(batch_processing_delay_s=3600)
    work = tmp_path / "work.jsonl"
    work.write_text("".join(json.dumps(work_item(f"item-{n}")) + "\n" for n in range(6)))
    assert cli.main(["enqueue", str(work), "--env", "test", "--job-id", "cancel-job"]) == 0
    world.source().drain()
    store = clients.get_job_store()
    (batch,) = store.open_batches()
    # When the spend guard closes with batch cancelling on
    canceled = cancel_open_batches(store, clients.message_batches())
    world.poll()
    # Then the batch was canceled, and its items are CANCELED, none billed
    assert canceled == [batch.batch_id]
    assert store.item_counts("cancel-job") == Counter({"CANCELED": 6})
    assert fake_claude.billed_totals().calls == 0
    # When, after reopening, the operator requeues them
    fake_claude.configure(batch_processing_delay_s=0)
    capsys.readouterr()
    assert cli.main(["requeue", "cancel-job", "--env", "test", "--states", "CANCELED"]) == 0
    world.source().drain()
    world.poll()
    # Then all 6 succeed
    assert store.item_counts("cancel-job") == Counter({"SUCCEEDED": 6})
