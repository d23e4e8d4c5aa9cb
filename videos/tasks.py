"""django-q2 entry points: thin callers of videos.services, each safe to run twice."""

from __future__ import annotations

from videos import services


def submit_job(job_id: str) -> None:
    services.job_submit(job_id=job_id)


def poll_job(job_id: str, force: bool = False) -> None:
    services.job_poll(job_id=job_id, force=force)


def fetch_job(job_id: str) -> None:
    services.job_fetch(job_id=job_id)


def sweep() -> dict[str, int]:
    return services.jobs_sweep()
