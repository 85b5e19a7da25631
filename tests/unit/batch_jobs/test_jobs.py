"""When a job counts as finished."""

from __future__ import annotations

import pytest

from batch_jobs.jobs import JobSummary


def summary(counts: dict[str, int], expected: int | None) -> JobSummary:
    return JobSummary(
        job_id="j",
        queue="default",
        mode="batch",
        status="OPEN",
        owner_user_id=None,
        expected_items=expected,
        results_uri=None,
        created_at="2026-11-25T00:00:00Z",
        completed_at=None,
        counts=counts,
    )


@pytest.mark.parametrize(
    ("counts", "expected", "finished"),
    [
        ({"SUCCEEDED": 3, "EXPIRED": 1}, 4, True),
        ({"SUCCEEDED": 3, "REJECTED": 1}, None, True),
        ({"SUCCEEDED": 3, "PENDING": 1}, 4, False),
        ({"SUCCEEDED": 3, "RETRYING": 1}, None, False),
        ({"SUCCEEDED": 3}, 4, False),  # one item has not reached the consumer yet
    ],
)
def test_finished_means_every_known_item_final_and_every_expected_item_known(counts, expected, finished):
    assert summary(counts, expected).finished is finished
