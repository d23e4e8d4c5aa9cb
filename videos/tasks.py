"""django-q2 entry points: thin callers of videos.services, each safe to run twice."""

from __future__ import annotations

from videos import services


def submit_job(job_id: str) -> None:
    services.job_submit(job_id=job_id)


def poll_job(job_id: str, force: bool = False) -> None:
    services.job_poll(job_id=job_id, force=force)


def adopt_job(job_id: str, task_id: str) -> None:
    services.job_adopt(job_id=job_id, task_id=task_id)


def fetch_job(job_id: str) -> None:
    services.job_fetch(job_id=job_id)


def fetch_attachment(attachment_id: str) -> None:
    services.attachment_fetch(attachment_id=int(attachment_id))


def cancel_upstream(job_id: str) -> None:
    services.job_cancel_upstream(job_id=job_id)


def sync_templates(provider: str, key_id: int | None = None) -> str:
    try:
        return str(services.templates_sync(provider=provider, key_id=key_id))
    except services.CatalogueSyncError as exc:
        # No key yet, or the listing is down: the next day's run (or the first key) retries.
        return f"not synced: {exc}"


def sweep() -> dict[str, int]:
    return services.jobs_sweep()


def check_key(key_id: str) -> None:
    services.key_check_by_id(key_id=int(key_id))
