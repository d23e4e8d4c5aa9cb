"""Every state change of a video job, by responsibility: create (and cancel), submit, follow
(polls and pushes), fetch, artifacts, sweep; keys, the catalogue and share links. Re-exported
here so callers say `services.job_create(...)`.

Nothing waits for the upstream: a job that is not ready gets a `next_attempt_at`, and the
sweeper (videos.tasks.sweep) hands it out again when it is due.
"""

from videos.services.artifacts import attachment_fetch
from videos.services.cancel import job_cancel_upstream
from videos.services.catalogue import CatalogueSyncError, templates_sync
from videos.services.create import (
    KeyChoice,
    MediaInput,
    job_cancel,
    job_cancelable,
    job_create,
    job_for_idempotency_key,
    job_pick_key,
)
from videos.services.fetch import job_fetch
from videos.services.follow import job_apply_progress, job_poll, job_record_callback
from videos.services.keys import (
    key_check,
    key_check_by_id,
    key_delete,
    key_mark_invalid,
    key_rotate,
    key_store,
    key_test,
    key_update,
)
from videos.services.shares import (
    ShareInputError,
    ShareStateError,
    share_count_view,
    share_create,
    share_for_token,
    share_revoke,
    share_url,
)
from videos.services.submit import job_adopt, job_submit
from videos.services.sweep import jobs_sweep
from videos.services.transitions import backoff_seconds, job_fail, poll_interval

__all__ = [
    "CatalogueSyncError",
    "KeyChoice",
    "MediaInput",
    "ShareInputError",
    "ShareStateError",
    "attachment_fetch",
    "backoff_seconds",
    "job_adopt",
    "job_apply_progress",
    "job_cancel",
    "job_cancel_upstream",
    "job_cancelable",
    "job_create",
    "job_fail",
    "job_fetch",
    "job_for_idempotency_key",
    "job_pick_key",
    "job_poll",
    "job_record_callback",
    "job_submit",
    "jobs_sweep",
    "key_check",
    "key_check_by_id",
    "key_delete",
    "key_mark_invalid",
    "key_rotate",
    "key_store",
    "key_test",
    "key_update",
    "poll_interval",
    "share_count_view",
    "share_create",
    "share_for_token",
    "share_revoke",
    "share_url",
    "templates_sync",
]
