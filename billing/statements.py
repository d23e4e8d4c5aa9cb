"""The monthly statement of a team: every ledger row of the month, and totals that are sums
of exactly those rows (so the statement, its CSV and the ledger can never disagree).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from accounts.models import Team
from billing.models import EntryKind, LedgerEntry
from billing.periods import period_bounds
from billing.selectors import ledger_for_period


@dataclass
class JobLine:
    """One job of the month: what was held for it and what became of it."""

    job_id: str
    template: str
    admitted_at: datetime
    outcome: str  # "charged", "released", "in progress"
    reserved_cents: int
    charged_cents: int


@dataclass
class Statement:
    team: Team
    period: date
    period_start: datetime
    period_end: datetime
    entries: list[LedgerEntry]
    jobs: list[JobLine] = field(default_factory=list)
    credits: list[LedgerEntry] = field(default_factory=list)
    charged_cents: int = 0
    charged_videos: int = 0
    released_cents: int = 0
    released_videos: int = 0
    open_cents: int = 0
    open_videos: int = 0
    granted_cents: int = 0

    @property
    def last_day(self) -> date:
        return (self.period_end - timedelta(days=1)).date()

    @property
    def total_cents(self) -> int:
        """Amount due: charges minus granted credit (negative: credit left over)."""
        return self.charged_cents - self.granted_cents


def statement_for(*, team: Team, period: date) -> Statement:
    start, end = period_bounds(period)
    entries = list(ledger_for_period(team=team, period=period))
    statement = Statement(team=team, period=period, period_start=start, period_end=end, entries=[])
    statement.entries = entries
    lines: dict = {}
    for entry in entries:
        if entry.kind == EntryKind.GRANT:
            statement.credits.append(entry)
            statement.granted_cents += entry.amount_cents
            continue
        line = lines.get(entry.job_id)
        if line is None:
            line = lines[entry.job_id] = JobLine(
                job_id=str(entry.job_id),
                template=entry.job.template.name if entry.job else "",
                admitted_at=entry.created_at,
                outcome="in progress",
                reserved_cents=0,
                charged_cents=0,
            )
        if entry.kind == EntryKind.RESERVE:
            line.reserved_cents = entry.amount_cents
            line.admitted_at = entry.created_at
        elif entry.kind == EntryKind.CAPTURE:
            line.outcome = "charged"
            line.charged_cents = entry.amount_cents
            statement.charged_cents += entry.amount_cents
            statement.charged_videos += 1
        elif entry.kind == EntryKind.RELEASE:
            line.outcome = "released"
            statement.released_cents += entry.amount_cents
            statement.released_videos += 1
    for line in lines.values():
        if line.outcome == "in progress":
            statement.open_cents += line.reserved_cents
            statement.open_videos += 1
    statement.jobs = sorted(lines.values(), key=lambda line: line.admitted_at)
    return statement


CSV_HEADER = [
    "entry_id",
    "created_at",
    "kind",
    "job_id",
    "template",
    "amount_cents",
    "effect_cents",
    "memo",
]


def statement_csv_rows(statement: Statement) -> Iterator[list]:
    """One row per ledger entry; `effect_cents` adds up to the total row at the end."""
    yield CSV_HEADER
    for entry in statement.entries:
        yield [
            entry.pk,
            entry.created_at.isoformat(),
            entry.kind,
            entry.job_id or "",
            entry.job.template.name if entry.job else "",
            entry.amount_cents,
            entry.signed_cents,
            entry.memo,
        ]
    yield ["", "", "total", "", "", "", statement.total_cents, f"{statement.period:%Y-%m}"]


def statement_csv(statement: Statement) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in statement_csv_rows(statement):
        writer.writerow(row)
    return buffer.getvalue()
