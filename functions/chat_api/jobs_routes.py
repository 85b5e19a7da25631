"""`GET /jobs/{job_id}`: a batch job's progress, read-only, for the caller whose work items it holds.

A job belongs to the `user_id` of its first work item; anyone else (and a job without an owner) gets the same
404 as for a job that does not exist, so callers cannot probe for other users' jobs.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations at runtime.
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from batch_jobs.clients import get_job_store
from batch_jobs.jobs import job_summary
from batch_jobs.schema import ID_PATTERN
from batch_jobs.store import JobStore
from chat_api.identity import Caller
from chat_api.models import ErrorResponse


class JobStatus(BaseModel):
    job_id: str
    queue: str
    mode: str
    #: OPEN while items are pending; COMPLETED once every item is final (and all expected items arrived).
    status: str
    #: Items per state: SUCCEEDED, ERRORED, EXPIRED, CANCELED, REJECTED, PENDING, IN_PROGRESS …
    counts: dict[str, int]
    total: int
    expected_items: int | None
    results_uri: str | None
    created_at: str
    completed_at: str | None


def jobs_router(caller: Callable[..., Caller], jobs: Callable[[], JobStore] = get_job_store) -> APIRouter:
    """The route, identifying callers with the app's own `caller` dependency."""
    router = APIRouter()
    CallerDep = Annotated[Caller, Depends(caller)]
    JobsDep = Annotated[JobStore, Depends(jobs)]

    @router.get(
        "/jobs/{job_id}",
        response_model=JobStatus,
        summary="A batch job's item counts per state and where its results are",
        responses={
            401: {"model": ErrorResponse, "description": "No caller identity"},
            404: {"model": ErrorResponse, "description": "No such job for this caller"},
        },
    )
    async def job(
        job_id: Annotated[str, Path(pattern=ID_PATTERN, description="The job id enqueue printed.")],
        who: CallerDep,
        store: JobsDep,
    ) -> JobStatus:
        summary = await run_in_threadpool(job_summary, store, job_id)
        if summary is None or summary.owner_user_id != who.user_id:
            raise HTTPException(status_code=404, detail="No such job")
        return JobStatus.model_validate(summary, from_attributes=True)

    return router
