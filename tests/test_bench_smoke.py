"""A toy-sized run of the benchmark harness (bench/), so it cannot rot between `make bench`s.

The real harness seeds with COPY into PostgreSQL and loads gunicorn; here the same seeder
writes a toy size into the test database, the same figures run against the live test server
for a fraction of a second each, and the report renders. No timing is asserted: only that
every figure produced a well-formed result.
"""

from __future__ import annotations

import json
import math

import pytest

from bench import figures, fixtures, report, seed
from bench.load import Req, run, spread

pytestmark = pytest.mark.django_db(transaction=True)

# What a toy run measures: everything the in-process server can answer (the event streams
# need ASGI, the POST figure a broker: both run in `make bench` only).
SMOKE_FIGURES = ["get", "auth", "api_deep", "portal_deep", "usage", "dashboard", "callbacks"]


@pytest.fixture
def bench_server(live_server, settings):
    settings.ROOT_URLCONF = "bench.urls"
    return int(live_server.url.rsplit(":", 1)[1])


def test_it_seeds_measures_and_reports_a_toy_run(bench_server, enqueued):
    seeded = seed.seed(seed.SIZES["toy"], log=lambda _m: None)
    fx = fixtures.make(seeded, run_id="smoke")
    cfg = figures.Config(
        rounds=2, seconds=0.15, latency_seconds=0.05, latency_min=1, connections=2, warmup=0.02
    )
    ctx = figures.Ctx(port=bench_server, seeded=seeded, fx=fx, cfg=cfg, log=lambda _m: None)
    results = {}
    for fig in figures.FIGURES:
        if fig.key in SMOKE_FIGURES:
            results[fig.key] = fig.measure(ctx)

    for key, out in results.items():
        assert "error" not in out, key
        assert isinstance(out["met"], bool), key
        assert math.isfinite(out["value"]), key
        assert out["shown"] and out["spread_shown"], key
        assert len(out["rounds"]) == 2, key
    # The deep pages really are deep: the page after the cursor starts where it should.
    assert results["api_deep"]["checks"]["big"]["first_is_expected"]
    assert results["portal_deep"]["checks"]["small"]["shows_expected"]

    doc = {"label": "after", "commit": "smoke", "machine": {}, "config": {}, "figures": results}
    text = report.render(None, json.loads(json.dumps(doc, default=str)))
    for fig in figures.FIGURES:
        assert fig.title in text
    assert "not run" in text  # the before column, absent here


def test_it_counts_statuses_and_spreads_ratios(bench_server):
    result = run(bench_server, Req("GET", "/bench/api/open"), connections=2, seconds=0.1)
    assert result.errors == 0
    assert result.statuses.get("200") == len(result.latencies) > 0
    refused = run(bench_server, Req("GET", "/bench/api/auth"), connections=1, seconds=0.05)
    assert refused.latencies == []
    assert set(refused.statuses) == {"401"}
    s = spread([1.0, 2.0, 3.0, 10.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.5, 1.0, 10.0, 4)


def test_it_aims_a_cursor_of_another_format_at_the_deep_row():
    import base64
    from datetime import UTC, datetime
    from uuid import uuid4

    from portal.api.cursors import cursor_decode, cursor_encode

    at, pk = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), uuid4()
    ours = figures._retarget(cursor_encode(datetime.now(UTC), uuid4()), at, pk)
    assert cursor_decode(ours, pk=type(pk)) == (at, pk)
    other = {"t": datetime.now(UTC).isoformat(), "k": str(uuid4()), "v": 2}
    raw = base64.urlsafe_b64encode(json.dumps(other).encode()).decode().rstrip("=")
    aimed = json.loads(base64.urlsafe_b64decode(figures._retarget(raw, at, pk) + "=="))
    assert aimed == {"t": at.isoformat(), "k": str(pk), "v": 2}
    assert figures._retarget(datetime.now(UTC).isoformat(), at, pk) == at.isoformat()
    assert figures._retarget("7", at, pk) is None
