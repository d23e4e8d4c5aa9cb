"""The benchmark's data: a team of 1,000,000 jobs, a team of 1,000, 1,000 teams, a full month.

Seeded with bulk COPY (psycopg 3 `cursor.copy`) into the schema of the commit the harness was
written on (`BASE_MIGRATIONS`, the "before" code), then `migrate` brings it to the code under
test: a migration that adds an index or backfills a rollup runs over the seeded rows exactly as
it would over a production database. Rows are written by column name, every column the seeder
does not know gets a neutral value of its type, so a column added later does not break it.

The seeded database is kept between runs: a marker row (`bench_seed`) names the size, the
seeder's version and the month; a run whose marker matches skips seeding (BENCH_RESEED=1
forces it). SQLite (the smoke test) gets the same rows through executemany.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import import_module
from typing import Any

from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

SEED_VERSION = 3
MARKER_TABLE = "bench_seed"

# The leaf migrations of the portal's apps at 9561d32, the code the "before" figures measured.
BASE_MIGRATIONS = {
    "accounts": "0007_audit_event",
    "billing": "0003_plan_private_by_default",
    "integrations": "0004_webhook_health",
    "notifications": "0002_email_sweep",
    "videos": "0010_share",
}

TEMPLATE_ID = "bench-text"  # a one-text, no-image MiniMax template of the bench's own
PRICE_CENTS = 100
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)  # processing jobs no sweep should look at
BIG_LIMIT = 100_000_000
BIG_BUDGET = 2_000_000_000  # fits PositiveIntegerField


@dataclass(frozen=True)
class Size:
    name: str
    big_jobs: int  # the big team
    small_jobs: int  # the comparison team
    teams: int  # teams in all (big and small included)
    month_jobs: int  # of the big team's, in the current month (for /usage/)
    other_jobs: int  # per other team, in the last 30 days (for the dashboard)


SIZES = {
    "full": Size("full", 1_000_000, 1_000, 1_000, 84_000, 10),
    "quick": Size("quick", 100_000, 1_000, 100, 8_400, 10),
    "toy": Size("toy", 2_000, 100, 5, 200, 5),
}


@dataclass
class Seeded:
    """What the measurements need to know about the seeded rows (kept in the marker)."""

    size: str
    month: str
    big_team: int
    small_team: int
    big_user: int
    small_user: int
    staff_user: int
    template: int
    stream_jobs: dict[str, list[str]]  # team name -> processing job ids (event streams)
    callback_tokens: list[str]  # processing MiniMax jobs' callback tokens (push ingest)
    seconds: float  # how long seeding took


# --- Writing rows -------------------------------------------------------------------------


def _columns(table: str) -> list[tuple[str, str, bool]]:
    """(name, type, nullable) of the table's columns as the database has them."""
    with connection.cursor() as cur:
        desc = connection.introspection.get_table_description(cur, table)
    return [(c.name, (c.type_code and str(c.type_code)) or "", bool(c.null_ok)) for c in desc]


def _neutral(internal: str, nullable: bool) -> Any:
    if nullable:
        return None
    kind = internal.lower()
    # PostgreSQL gives type oids; SQLite gives names. Both cases covered by the value's text.
    if kind in ("16", "bool", "boolean") or "bool" in kind:
        return False
    if kind in ("20", "21", "23", "700", "701", "1700") or "int" in kind or "real" in kind:
        return 0
    if kind in ("114", "3802") or "json" in kind:
        return "{}"
    if kind in ("1082",) or kind == "date":
        return date(2000, 1, 1)
    if kind in ("1114", "1184") or "datetime" in kind or "timestamp" in kind:
        return datetime(2000, 1, 1, tzinfo=UTC)
    return ""


def _write(table: str, known: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Bulk-insert rows given for the `known` columns; other columns get neutral values."""
    cols = _columns(table)
    names = [c[0] for c in cols]
    missing = [n for n in known if n not in names]
    if missing:
        raise RuntimeError(f"{table} has no column(s) {missing}: the seeder is out of date")
    # The id is the database's own (a serial or identity column) unless given.
    extra = [(n, _neutral(t, null)) for n, t, null in cols if n not in known and n != "id"]
    all_names = list(known) + [n for n, _ in extra]
    tail = tuple(v for _, v in extra)
    count = 0
    if connection.vendor == "postgresql":
        quoted = ", ".join(f'"{n}"' for n in all_names)
        with connection.cursor() as cur:
            raw = cur.cursor  # psycopg 3's own cursor under Django's wrapper
            with raw.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(tuple(row) + tail)
                    count += 1
    else:
        marks = ", ".join(["%s"] * len(all_names))
        names_sql = ", ".join(f'"{n}"' for n in all_names)
        sql = f'INSERT INTO "{table}" ({names_sql}) VALUES ({marks})'
        batch: list[tuple] = []
        with connection.cursor() as cur:
            for row in rows:
                batch.append(tuple(_sqlite_value(v) for v in tuple(row) + tail))
                if len(batch) >= 5000:
                    cur.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cur.executemany(sql, batch)
                count += len(batch)
    return count


def _sqlite_value(value: Any) -> Any:
    # What Django's SQLite backend stores: UUIDs as hex, naive UTC times, booleans as 0/1.
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return str(value.astimezone(UTC).replace(tzinfo=None))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _insert_one(table: str, values: dict[str, Any]) -> int:
    _write(table, list(values), [list(values.values())])
    with connection.cursor() as cur:
        cur.execute(f'SELECT MAX(id) FROM "{table}"')
        return int(cur.fetchone()[0])


# --- The marker ---------------------------------------------------------------------------


def _marker_key(size: Size, now: datetime) -> dict[str, Any]:
    return {"version": SEED_VERSION, "size": asdict(size), "month": f"{now:%Y-%m}"}


def read_marker() -> dict[str, Any] | None:
    if MARKER_TABLE not in connection.introspection.table_names():
        return None
    with connection.cursor() as cur:
        cur.execute(f"SELECT value FROM {MARKER_TABLE} WHERE name = %s", ["seed"])
        row = cur.fetchone()
    return json.loads(row[0]) if row else None


def _write_marker(value: dict[str, Any]) -> None:
    with connection.cursor() as cur:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (name varchar(40) PRIMARY KEY, value text)"
        )
        cur.execute(f"DELETE FROM {MARKER_TABLE} WHERE name = %s", ["seed"])
        cur.execute(
            f"INSERT INTO {MARKER_TABLE} (name, value) VALUES (%s, %s)",
            ["seed", json.dumps(value)],
        )


# --- Migrations ---------------------------------------------------------------------------


def migrate_to_base() -> None:
    """The schema of the "before" code: our apps at BASE_MIGRATIONS, third-party ones latest.
    Apps added since are left out here; `migrate` adds them after the COPY."""
    executor = MigrationExecutor(connection)
    targets = []
    for app, name in executor.loader.graph.leaf_nodes():
        if app in BASE_MIGRATIONS:
            continue
        if _is_local(app):
            continue  # an app added after the base: migrated with the rest afterwards
        targets.append((app, name))
    targets += list(BASE_MIGRATIONS.items())
    executor.migrate(targets)


def _is_local(app_label: str) -> bool:
    from django.apps import apps

    try:
        config = apps.get_app_config(app_label)
    except LookupError:
        return False
    return ".venv" not in config.path and "site-packages" not in config.path


def migrate_latest() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# --- The rows -----------------------------------------------------------------------------


def _uuids(seed: int) -> Callable[[], uuid.UUID]:
    rng = random.Random(seed)
    return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)


JOB_COLUMNS = [
    "id",
    "team_id",
    "created_by_id",
    "template_id",
    "key_pinned",
    "provider",
    "text_inputs",
    "media_urls",
    "reference",
    "callback_url",
    "idempotency_key",
    "request_hash",
    "status",
    "progress",
    "error_code",
    "error_message",
    "upstream_task_id",
    "upstream_state",
    "upstream_status",
    "upstream_data",
    "callback_token",
    "submit_attempts",
    "fetch_attempts",
    "poll_count",
    "next_attempt_at",
    "cost_cents",
    "created_at",
    "updated_at",
    "submitted_at",
    "finished_at",
]
LEDGER_COLUMNS = ["team_id", "job_id", "kind", "amount_cents", "period", "memo", "created_at"]


def _month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _job_times(count: int, month_jobs: int, now: datetime) -> Iterator[datetime]:
    """Newest first, strictly decreasing: `month_jobs` of them since the 1st of this month,
    the rest spread over the 11 months before (rank i is the i-th newest job)."""
    month = _month_start(now)
    recent_span = max((now - month).total_seconds() - 60, 60.0)
    older_span = (month - (month - timedelta(days=334))).total_seconds()
    older = max(count - month_jobs, 1)
    for i in range(count):
        if i < month_jobs:
            yield now - timedelta(seconds=30 + recent_span * i / max(month_jobs, 1))
        else:
            j = i - month_jobs
            yield month - timedelta(seconds=1 + older_span * j / older)


def _spread(count: int, days: float, now: datetime) -> Iterator[datetime]:
    for i in range(count):
        yield now - timedelta(seconds=30 + days * 86400 * i / max(count, 1))


class _Rows:
    """Job rows and, alongside, their ledger rows (collected for a second COPY)."""

    def __init__(self, template: int) -> None:
        self.template = template
        self.ledger: list[tuple] = []
        self.new_id = _uuids(20261201)
        self.serial = 0

    def jobs(
        self, team: int, user: int | None, times: Iterable[datetime], tag: str
    ) -> Iterator[tuple]:
        for rank, at in enumerate(times):
            self.serial += 1
            job_id = self.new_id()
            failed = self.serial % 25 == 0
            status = "failed" if failed else "succeeded"
            finished = at + timedelta(seconds=120 + self.serial % 180)
            period = date(at.year, at.month, 1)
            yield (
                job_id,
                team,
                user,
                self.template,
                False,
                "minimax",
                '["bench"]',
                "[]",
                f"{tag}-{rank}",
                "",
                "",
                "",
                status,
                0 if failed else 100,
                "upstream_failed" if failed else "",
                "The upstream failed this video." if failed else "",
                f"bench-task-{self.serial}",
                "failed" if failed else "succeeded",
                "Fail" if failed else "Success",
                "{}",
                f"bench{self.serial:012d}{job_id.hex[:20]}",
                1,
                0 if failed else 1,
                3,
                None,
                0 if failed else PRICE_CENTS,
                at,
                finished,
                at + timedelta(seconds=2),
                finished,
            )
            self.ledger.append((team, job_id, "reserve", PRICE_CENTS, period, "", at))
            self.ledger.append(
                (
                    team,
                    job_id,
                    "release" if failed else "capture",
                    PRICE_CENTS,
                    period,
                    "",
                    finished,
                )
            )

    def processing(self, team: int, user: int, count: int, now: datetime) -> tuple[list, list]:
        """Jobs at the upstream whose next look is far away: event streams and callback pushes
        target them, and no sweep moves them."""
        rows, ids = [], []
        for i in range(count):
            self.serial += 1
            job_id = self.new_id()
            token = f"benchcb{self.serial:012d}{job_id.hex[:20]}"
            at = now - timedelta(seconds=5 + i)
            rows.append(
                (job_id, team, user, self.template, False, "minimax", '["bench"]', "[]",
                 f"proc-{i}", "", "", "", "processing", 40, "", "", f"bench-proc-{self.serial}",
                 "running", "Processing", "{}", token, 1, 0, 1, FAR_FUTURE, 0, at, at,
                 at + timedelta(seconds=1), None)
            )  # fmt: skip
            period = date(at.year, at.month, 1)
            self.ledger.append((team, job_id, "reserve", PRICE_CENTS, period, "", at))
            ids.append((str(job_id), token))
        return rows, ids


def seed(size: Size, *, now: datetime | None = None, log: Callable[[str], None] = print) -> Seeded:
    """Seed an empty database (already at BASE_MIGRATIONS) and migrate it to the latest."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET synchronous_commit = off")
            # The rows are consistent by construction: no per-row foreign-key checks at commit
            # (minutes for 3M rows). Superuser only, as the services' PostgreSQL user is.
            cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("SELECT id FROM billing_plan ORDER BY is_default DESC, id LIMIT 1")
        plan = cur.fetchone()
    plan_id = plan[0] if plan else None

    users: dict[str, int] = {}
    for name, staff in (("bench_big", False), ("bench_small", False), ("bench_staff", True)):
        users[name] = _insert_one(
            "auth_user",
            {
                "username": name,
                "password": "!bench-unusable",  # sessions are made directly; no sign-in
                "email": f"{name}@bench.invalid",
                "is_staff": staff,
                "is_superuser": staff,
                "is_active": True,
                "date_joined": now,
                "first_name": "",
                "last_name": "",
            },
        )
    teams = {}
    for name, user in (("Bench big", "bench_big"), ("Bench small", "bench_small")):
        teams[name] = _insert_one(
            "accounts_team",
            {"name": name, "personal_for_id": users[user], "require_mfa": False, "created_at": now},
        )
        _write(
            "accounts_membership",
            ["team_id", "user_id", "role", "created_at"],
            [(teams[name], users[user], "owner", now)],
        )
    # The staff user belongs to the small team: the dashboard asks for nothing of its own.
    _write(
        "accounts_membership",
        ["team_id", "user_id", "role", "created_at"],
        [(teams["Bench small"], users["bench_staff"], "member", now)],
    )
    for username, user_id in users.items():
        _write(
            "account_emailaddress",
            ["user_id", "email", "verified", "primary"],
            [(user_id, f"{username}@bench.invalid", True, True)],
        )
    others = size.teams - 2
    _write(
        "accounts_team",
        ["name", "personal_for_id", "require_mfa", "created_at"],
        ((f"Bench team {i}", None, False, now - timedelta(days=400)) for i in range(others)),
    )
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM accounts_team WHERE name LIKE %s ORDER BY id", ["Bench team %"])
        other_ids = [r[0] for r in cur.fetchall()]
    template = _insert_one(
        "videos_videotemplate",
        {
            "provider": "minimax",
            "region": "global",
            "template_id": TEMPLATE_ID,
            "name": "Bench (one text)",
            "description": "The benchmark's template: one text input, no image.",
            "media_inputs": 0,
            "text_inputs": 1,
            "text_label": "Text",
            "price_cents": PRICE_CENTS,
            "is_active": True,
            "position": 999,
            "inputs_known": True,
            "source_urls": "{}",
        },
    )
    log(f"seed: {size.big_jobs:,} + {size.small_jobs:,} + {others * size.other_jobs:,} jobs")
    rows = _Rows(template)
    big, small = teams["Bench big"], teams["Bench small"]
    n = _write(
        "videos_job",
        JOB_COLUMNS,
        rows.jobs(big, users["bench_big"], _job_times(size.big_jobs, size.month_jobs, now), "b"),
    )
    n += _write(
        "videos_job",
        JOB_COLUMNS,
        rows.jobs(small, users["bench_small"], _spread(size.small_jobs, 60, now), "s"),
    )

    def _others() -> Iterator[tuple]:
        for team in other_ids:
            yield from rows.jobs(team, None, _spread(size.other_jobs, 30, now), f"t{team}")

    n += _write("videos_job", JOB_COLUMNS, _others())
    stream_jobs: dict[str, list[str]] = {}
    tokens: list[str] = []
    for name, team, user in (("big", big, "bench_big"), ("small", small, "bench_small")):
        proc, ids = rows.processing(team, users[user], 20, now)
        n += _write("videos_job", JOB_COLUMNS, proc)
        stream_jobs[name] = [i for i, _ in ids]
        tokens += [t for _, t in ids]
    log(f"seed: {n:,} jobs written ({time.monotonic() - started:.0f} s); ledger next")
    _write("billing_ledgerentry", LEDGER_COLUMNS, rows.ledger)
    rows.ledger = []
    with connection.cursor() as cur:
        table = connection.introspection.get_table_description(cur, "billing_periodusage")
    if "captured_cents" in {column.name for column in table}:
        # A schema that already has billing 0004's counters (the smoke run seeds a migrated
        # test database): fill them as that migration's backfill does, limits lifted as below.
        from django.apps import apps

        from billing.models import PeriodUsage

        import_module("billing.migrations.0004_usage_counters").backfill(apps, None)
        PeriodUsage.objects.update(video_limit=BIG_LIMIT, budget_cents=BIG_BUDGET)
    else:
        _period_usage_before_counters()
    if plan_id is not None:
        with connection.cursor() as cur:
            cur.execute("SELECT id FROM accounts_team")
            team_ids = [r[0] for r in cur.fetchall()]
        _write(
            "billing_teamplan",
            ["team_id", "plan_id", "video_limit_override", "budget_cents_override", "updated_at"],
            ((t, plan_id, BIG_LIMIT, BIG_BUDGET, now) for t in team_ids),
        )
    log(f"seed: ledger and counters written ({time.monotonic() - started:.0f} s)")
    return Seeded(
        size=size.name,
        month=f"{now:%Y-%m}",
        big_team=big,
        small_team=small,
        big_user=users["bench_big"],
        small_user=users["bench_small"],
        staff_user=users["bench_staff"],
        template=template,
        stream_jobs=stream_jobs,
        callback_tokens=tokens,
        seconds=0.0,
    )


def _has_jobs() -> bool:
    if "videos_job" not in connection.introspection.table_names():
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM videos_job)")
        return bool(cur.fetchone()[0])


def ensure_seeded(
    size: Size, *, reseed: bool = False, log: Callable[[str], None] = print
) -> Seeded:
    """The seeded rows of this size: kept from an earlier run when its marker matches, else
    made now (the database must then be empty: the caller drops and recreates it)."""
    now = datetime.now(UTC)
    key = _marker_key(size, now)
    marker = read_marker()
    if marker and not reseed and marker.get("key") == key:
        log(f"seed: kept ({size.name}, seeded in {marker['seeded']['seconds']:.0f} s)")
        migrate_latest()
        return Seeded(**marker["seeded"])
    if marker or _has_jobs():
        raise RuntimeError("the database holds other data: drop it first (BENCH_RESEED=1)")
    started = time.monotonic()
    migrate_to_base()
    with transaction.atomic():  # all or nothing: a failed seed leaves an empty database
        seeded = seed(size, now=now, log=log)
    log("seed: migrating the seeded rows to the code under test")
    migrate_latest()
    seeded.seconds = time.monotonic() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    _write_marker({"key": key, "seeded": asdict(seeded)})
    log(f"seed: done in {seeded.seconds:.0f} s")
    return seeded


def _period_usage_before_counters() -> None:
    """The counters of the 9561d32 schema (before billing 0004), as its reserves and releases
    left them; migrating forward then fills the rest from the ledger."""
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO billing_periodusage
                (team_id, period, videos, cents, video_limit, budget_cents)
            SELECT team_id, period,
                   SUM(CASE WHEN kind = 'reserve' THEN 1 WHEN kind = 'release' THEN -1 ELSE 0 END),
                   SUM(CASE WHEN kind = 'reserve' THEN amount_cents
                            WHEN kind = 'release' THEN -amount_cents ELSE 0 END),
                   %s, %s
            FROM billing_ledgerentry GROUP BY team_id, period
            """,
            [BIG_LIMIT, BIG_BUDGET],
        )
