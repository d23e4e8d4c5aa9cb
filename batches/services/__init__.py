"""Writes of the batches app, by responsibility: rows (items and their checks), create
(admission and the jobs), actions (ending, cancel, retry), archive (the ZIP), files (a
CSV, a ZIP of images or many images as items). Re-exported: `services.batch_create(...)`."""

from batches.services.actions import (
    batch_cancel,
    batch_finish_if_done,
    batch_job_ended,
    batch_retry_failed,
    batches_sweep,
)
from batches.services.create import (
    Admission,
    batch_admission,
    batch_check,
    batch_create,
    batch_for_idempotency_key,
)
from batches.services.rows import ItemSpec, MediaSource, items_check

__all__ = [
    "Admission",
    "ItemSpec",
    "MediaSource",
    "batch_admission",
    "batch_cancel",
    "batch_check",
    "batch_create",
    "batch_finish_if_done",
    "batch_for_idempotency_key",
    "batch_job_ended",
    "batch_retry_failed",
    "batches_sweep",
    "items_check",
]
