"""Message Batches move through in_progress, canceling and ended on the fake's clock, like the API's."""

from __future__ import annotations

from typing import Any

import pytest

from local.fake_claude.batches import EXPIRES_AFTER_S, BatchStore
from local.fake_claude.protocol import ApiError, BatchRequestItem


def _items(*custom_ids: str) -> list[BatchRequestItem]:
    params = {"model": "claude-haiku-5-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    return [BatchRequestItem.model_validate({"custom_id": cid, "params": params}) for cid in custom_ids]


def _succeed(item: BatchRequestItem) -> dict[str, Any]:
    return {"type": "succeeded", "message": {"id": f"msg_{item.custom_id}"}}


@pytest.fixture
def store() -> BatchStore:
    return BatchStore(_succeed)


def test_a_batch_is_in_progress_until_its_delay_has_passed(store: BatchStore) -> None:
    # Given a batch of three created at t=0 with a 60 s processing delay
    batch = store.create(_items("a", "b", "c"), now=0, processing_delay_s=60)
    # When it is looked at before and after the delay
    early = store.get(batch.id, now=59).to_json("http://fake")
    late = store.get(batch.id, now=61).to_json("http://fake")
    # Then it counts three processing, then three succeeded, ended when it became ready, with a results URL
    assert (early["processing_status"], early["request_counts"]["processing"], early["results_url"]) == (
        "in_progress",
        3,
        None,
    )
    assert late["processing_status"] == "ended"
    assert late["request_counts"] == {
        "processing": 0,
        "succeeded": 3,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert late["ended_at"] == "1970-01-01T00:01:00Z"
    assert late["results_url"] == f"http://fake/v1/messages/batches/{batch.id}/results"
    assert sorted(r["custom_id"] for r in store.results(batch.id, now=61)) == ["a", "b", "c"]


def test_results_are_refused_before_the_batch_ends(store: BatchStore) -> None:
    batch = store.create(_items("a"), now=0, processing_delay_s=60)
    with pytest.raises(ApiError) as raised:
        store.results(batch.id, now=1)
    assert raised.value.status == 400


def test_a_cancel_answers_canceling_and_the_batch_then_ends_canceled(store: BatchStore) -> None:
    # Given a batch in progress
    batch = store.create(_items("a", "b"), now=0, processing_delay_s=60)
    # When it is canceled, then looked at again
    canceling = store.cancel(batch.id, now=10).to_json("http://fake")
    ended = store.get(batch.id, now=10).to_json("http://fake")
    # Then the cancel answers canceling and the batch ends with every request canceled
    assert canceling["processing_status"] == "canceling"
    assert canceling["cancel_initiated_at"] == "1970-01-01T00:00:10Z"
    assert ended["processing_status"] == "ended"
    assert ended["request_counts"]["canceled"] == 2


def test_a_batch_not_processed_within_24_hours_expires(store: BatchStore) -> None:
    batch = store.create(_items("a"), now=0, processing_delay_s=2 * EXPIRES_AFTER_S)
    ended = store.get(batch.id, now=EXPIRES_AFTER_S).to_json("http://fake")
    assert ended["request_counts"]["expired"] == 1
    assert ended["ended_at"] == ended["expires_at"]


def test_duplicate_custom_ids_are_refused(store: BatchStore) -> None:
    with pytest.raises(ApiError, match="duplicate custom_id 'a'"):
        store.create(_items("a", "b", "a"), now=0, processing_delay_s=0)


def test_an_unknown_batch_is_not_found(store: BatchStore) -> None:
    with pytest.raises(ApiError) as raised:
        store.get("msgbatch_nope", now=0)
    assert (raised.value.status, raised.value.error_type) == (404, "not_found_error")


def test_only_an_ended_batch_can_be_deleted(store: BatchStore) -> None:
    batch = store.create(_items("a"), now=0, processing_delay_s=60)
    with pytest.raises(ApiError):
        store.delete(batch.id, now=1)
    store.delete(batch.id, now=61)
    with pytest.raises(ApiError):
        store.get(batch.id, now=62)


def test_pages_run_newest_first_and_follow_cursors_both_ways(store: BatchStore) -> None:
    # Given five batches created one second apart
    ids = [store.create(_items("a"), now=t, processing_delay_s=0).id for t in range(5)]
    newest_first = ids[::-1]
    # When they are paged two at a time forwards, and backwards from the last one
    first = store.page(now=10, limit=2, after_id=None, before_id=None)
    second = store.page(now=10, limit=2, after_id=first["last_id"], before_id=None)
    third = store.page(now=10, limit=2, after_id=second["last_id"], before_id=None)
    back = store.page(now=10, limit=2, after_id=None, before_id=newest_first[4])
    # Then the pages are in order, say whether more follow, and name their ends
    assert [b.id for b in first["data"]] == newest_first[:2]
    assert first["has_more"]
    assert [b.id for b in second["data"]] == newest_first[2:4]
    assert second["has_more"]
    assert [b.id for b in third["data"]] == newest_first[4:]
    assert not third["has_more"]
    assert [b.id for b in back["data"]] == newest_first[2:4]
    assert back["has_more"]
    assert (first["first_id"], first["last_id"]) == (newest_first[0], newest_first[1])
