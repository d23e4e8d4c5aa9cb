"""Per-run objects the measurements use, made with the code under test (the ORM, services).

Tokens, sessions and the POST teams are made fresh on every run (cheap), so a kept seeded
database never carries credentials between runs and the POST figure always starts from
empty teams.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import connection

from bench.seed import BIG_BUDGET, BIG_LIMIT, Seeded

POST_TEAMS = 8


@dataclass
class Fixtures:
    big_token: str
    small_token: str
    post_tokens: list[str]  # one per POST team, each team with a sandbox key
    post_teams: list[int]
    sessions: dict[str, str]  # big / small / staff -> session key
    job_small: str  # a finished job of the small team (GET /api/v1/videos/{id})
    extra: dict = field(default_factory=dict)


def _session_for(user) -> str:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def _unlimited(team_id: int) -> None:
    from billing.models import Plan, TeamPlan

    plan = Plan.objects.filter(is_default=True).first() or Plan.objects.first()
    TeamPlan.objects.update_or_create(
        team_id=team_id,
        defaults={
            "plan": plan,
            "video_limit_override": BIG_LIMIT,
            "budget_cents_override": BIG_BUDGET,
            "max_concurrent_override": 32_000,
        },
    )


def make(seeded: Seeded, *, run_id: str) -> Fixtures:
    from accounts.models import Membership, Team
    from integrations.services import token_create
    from videos.models import Job
    from videos.services import key_store

    quiet_seeded_jobs()
    users = get_user_model().objects
    big_user, small_user = users.get(pk=seeded.big_user), users.get(pk=seeded.small_user)
    staff = users.get(pk=seeded.staff_user)
    big = Team.objects.get(pk=seeded.big_team)
    small = Team.objects.get(pk=seeded.small_team)
    _, big_token = token_create(user=big_user, team=big, name=f"bench {run_id}")
    _, small_token = token_create(user=small_user, team=small, name=f"bench {run_id}")
    post_tokens, post_teams = [], []
    extra: dict = {}
    for i in range(POST_TEAMS + 1):
        user = users.create_user(
            f"bench_post_{run_id}_{i}", email=f"post{i}-{run_id}@bench.invalid", password=None
        )
        team = Team.objects.filter(memberships__user=user).first()
        if team is None:  # no personal team made by a signal: make one
            team = Team.objects.create(name=f"Bench post {run_id} {i}", personal_for=user)
            Membership.objects.create(team=team, user=user, role="owner")
        _unlimited(team.pk)
        if i == POST_TEAMS:
            # The re-poll and store figures' team, apart from the POST teams: its key's sandbox
            # tasks take 10 minutes (`gen600`), and a create of a POST team must never pick it.
            secret = f"sk-bench-{secrets.token_hex(8)}-gen600"
            key = key_store(user=user, label="Bench re-poll key", secret=secret, provider="minimax")
            extra.update(repoll_key=(key.pk, secret), repoll_user=user.pk, repoll_team=team.pk)
            break
        key_store(
            user=user,
            label="Bench sandbox key",
            secret=f"sk-bench-{secrets.token_hex(8)}",
            provider="minimax",
            share_with=team,
        )
        _, token = token_create(user=user, team=team, name=f"bench {run_id}")
        post_tokens.append(token)
        post_teams.append(team.pk)
    job_small = (
        Job.objects.filter(team=small, status="succeeded")
        .order_by("-created_at")
        .values_list("id", flat=True)
        .first()
    )
    return Fixtures(
        big_token=big_token,
        small_token=small_token,
        post_tokens=post_tokens,
        post_teams=post_teams,
        sessions={
            "big": _session_for(big_user),
            "small": _session_for(small_user),
            "staff": _session_for(staff),
        },
        job_small=str(job_small),
        extra=extra,
    )


def settle_post_jobs(fixtures: Fixtures) -> int:
    """The POST (and re-poll) teams' unfinished jobs were never meant to run on: end them, so
    no later worker of this or another run sends them upstream (and the next side starts from
    empty teams)."""
    teams = [int(t) for t in [*fixtures.post_teams, fixtures.extra["repoll_team"]]]
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE videos_job SET status = 'canceled', finished_at = CURRENT_TIMESTAMP,"
            " next_attempt_at = NULL WHERE status IN ('queued', 'submitting', 'processing')"
            f" AND team_id IN ({', '.join(str(t) for t in teams)})"
        )
        return cur.rowcount


def quiet_seeded_jobs() -> None:
    """The seeded processing jobs (event streams, callback pushes) stay processing, with no
    look due, whatever an earlier run's pushes or a worker left on them."""
    from bench.seed import FAR_FUTURE

    with connection.cursor() as cur:
        # Their timelines too: every push adds an event, and a new stream sends them all.
        cur.execute(
            "DELETE FROM videos_jobevent WHERE job_id IN"
            " (SELECT id FROM videos_job WHERE callback_token LIKE %s)",
            ["benchcb%"],
        )
        cur.execute(
            "UPDATE videos_job SET status = 'processing', finished_at = NULL, error_code = '',"
            " error_message = '', next_attempt_at = %s, forced_poll_at = NULL,"
            " forced_final_poll_at = NULL WHERE callback_token LIKE %s",
            [FAR_FUTURE, "benchcb%"],
        )
