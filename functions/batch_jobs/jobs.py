"""A job as its caller sees it: counts of its items per state and where their results are."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from batch_jobs.store import FINAL_STATES, JobRecord, JobStore


@dataclass(frozen=True, slots=True)
class JobSummary(JobRecord):
    """The job's record and how many of its items are in each state."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        """Every known item is final and, if the sender said how many to expect, all of them have arrived."""
        all_final = all(state in FINAL_STATES for state in self.counts)
        return all_final and (self.expected_items is None or self.total >= self.expected_items)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total, "finished": self.finished}


def job_summary(jobs: JobStore, job_id: str) -> JobSummary | None:
    record = jobs.get_job(job_id)
    if record is None:
        return None
    return JobSummary(**asdict(record), counts=dict(sorted(jobs.item_counts(job_id).items())))
