"""Making a batch: check every item, admit the whole batch against the month's quota and
budget, then make all its jobs in one transaction (all reserved, or none)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import Team
from batches.models import Batch, BatchItem
from batches.services.rows import ItemSpec, items_check, media_inputs
from billing.errors import QuotaExceededError, TeamSuspendedError
from billing.selectors import team_usage
from billing.services import money
from videos.errors import IdempotencyConflictError, JobInputError
from videos.models import VideoTemplate
from videos.services import job_create, job_pick_key


@dataclass(frozen=True)
class Admission:
    """What a batch would cost and what the team has left this month (the confirm page)."""

    count: int
    unit_cents: int
    total_cents: int
    videos_remaining: int
    budget_remaining_cents: int
    resets_at: datetime
    suspended: bool

    @property
    def fits_videos(self) -> bool:
        return self.count <= self.videos_remaining

    @property
    def fits_budget(self) -> bool:
        return self.total_cents <= self.budget_remaining_cents

    @property
    def ok(self) -> bool:
        return self.fits_videos and self.fits_budget and not self.suspended

    def refusal(self) -> QuotaExceededError | None:
        resets = f"{self.resets_at.day} {self.resets_at:%B %Y} (UTC)"
        if self.suspended:
            return TeamSuspendedError(
                "Your team is suspended, so it cannot start new videos. Contact support."
            )
        if not self.fits_videos:
            return QuotaExceededError(
                f"This batch has {self.count} videos but your team has only "
                f"{self.videos_remaining} left this month; nothing was created. "
                f"The quota resets on {resets}.",
                limit="videos",
                resets_at=self.resets_at,
            )
        if not self.fits_budget:
            return QuotaExceededError(
                f"This batch costs {money(self.total_cents)} ({self.count} at "
                f"{money(self.unit_cents)} each) but only {money(self.budget_remaining_cents)} of "
                f"your team's monthly budget is left; nothing was created. "
                f"The budget resets on {resets}.",
                limit="budget",
                resets_at=self.resets_at,
            )
        return None


def batch_admission(*, team: Team, template: VideoTemplate, count: int) -> Admission:
    usage = team_usage(team=team)
    return Admission(
        count=count,
        unit_cents=template.price_cents,
        total_cents=count * template.price_cents,
        videos_remaining=usage.videos_remaining,
        budget_remaining_cents=usage.budget_remaining_cents,
        resets_at=usage.resets_at,
        suspended=usage.suspended,
    )


def batch_check(
    *, team: Team, user, template: VideoTemplate, items: list[ItemSpec], key_id: int | None
) -> Admission:
    """Everything batch_create checks before it writes: the template, the key, every item
    (BatchInputError lists all bad ones), the whole batch against quota and budget."""
    if not template.is_active:
        raise JobInputError("template_id", "this template is not available")
    job_pick_key(user=user, team=team, template=template, key_id=key_id)
    items_check(template, items, max_items=settings.BATCH_MAX_ITEMS)
    admission = batch_admission(team=team, template=template, count=len(items))
    refusal = admission.refusal()
    if refusal is not None:
        raise refusal
    return admission


def batch_for_idempotency_key(team: Team, idempotency_key: str, request_hash: str) -> Batch | None:
    batch = Batch.objects.filter(team=team, idempotency_key=idempotency_key).first()
    if batch is not None and batch.request_hash != request_hash:
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used with a different request body"
        )
    return batch


class _DuplicateRequest(Exception):
    pass


def batch_create(
    *,
    team: Team,
    user,
    template: VideoTemplate,
    items: list[ItemSpec],
    key_id: int | None = None,
    name: str = "",
    callback_url: str = "",
    idempotency_key: str = "",
    request_hash: str = "",
) -> Batch:
    """Check everything (batch_check), then make the batch and one job per item.

    All in one transaction under the team row's lock: the whole batch is admitted against
    what is left of the month, every job then reserves its own price through job_create (so
    the ledger has one reserve per job, as for any job), and a refusal of any one rolls all
    of them back. With an `idempotency_key`, a second call with the same body returns the
    first batch (nothing new is made or reserved); the unique constraint decides races.
    """
    if idempotency_key:
        existing = batch_for_idempotency_key(team, idempotency_key, request_hash)
        if existing is not None:
            return existing
    batch_check(team=team, user=user, template=template, items=items, key_id=key_id)
    try:
        with transaction.atomic():
            # NO KEY UPDATE, as billing.services.ledger_reserve (which takes it again per
            # job): concurrent batches and submits of the team wait here, so the admission
            # below cannot be overtaken before the jobs are reserved.
            Team.objects.select_for_update(no_key=True).get(pk=team.pk)
            refusal = batch_admission(team=team, template=template, count=len(items)).refusal()
            if refusal is not None:
                raise refusal
            batch = _batch_row(
                team=team,
                template=template,
                created_by=user,
                name=name[:200],
                callback_url=callback_url,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
            for index, spec in enumerate(items):
                item_create(
                    batch=batch, user=user, row=index + 1, attempt=1, spec=spec, key_id=key_id
                )
    except _DuplicateRequest:
        twin = batch_for_idempotency_key(team, idempotency_key, request_hash)
        assert twin is not None  # the constraint that refused us is that twin's row
        return twin
    return batch


def _batch_row(**fields) -> Batch:
    if not fields["idempotency_key"]:
        return Batch.objects.create(**fields)
    try:
        with transaction.atomic():  # a savepoint: the unique violation must not poison the rest
            return Batch.objects.create(**fields)
    except IntegrityError:
        raise _DuplicateRequest from None


def item_create(*, batch: Batch, user, row: int, attempt: int, spec: ItemSpec, key_id) -> BatchItem:
    template = batch.template
    job = job_create(
        team=batch.team,
        user=user,
        template=template,
        text_inputs=spec.texts,
        media_inputs=media_inputs(template, spec, prefix=f"items[{row - 1}]."),
        key_id=key_id,
        reference=spec.reference,
        # The job's own idempotency: one job per row and attempt, whatever repeats.
        idempotency_key=f"batch:{batch.pk}:{row}:{attempt}",
        queue_behind=True,
    )
    return BatchItem.objects.create(batch=batch, job=job, row=row, attempt=attempt)
