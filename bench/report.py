"""docs/benchmarks.md from bench/results/before.json and bench/results/after.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.figures import FIGURES, NOT_MEASURED

INTRO = """\
# Benchmarks (issue 11)

Written by `make bench` (bench/, README, "Benchmarks") from the raw results in `bench/results/`:
`before.json` is the code of 9561d32 (before the fixes of issue 11), `after.json` the latest
run. Each figure is the **median of the per-round ratios** of interleaved A/B rounds (A then B,
B then A on the next round, same connections and length), with the quartiles (IQR) and the
range over the rounds; absolute times are the A side's median. Throughput figures load 8
keep-alive connections from the harness's own process (Python threads + http.client, not wrk);
latency figures (the 1M-vs-1k pages) send one request at a time.

Setup: PostgreSQL and Redis as `make test-services` starts them (scripts/services.sh), gunicorn
with uvicorn workers as `gunicorn.conf.py` sizes it (2 x cores + 1 = 5 workers on this
machine; ASGI, so the event streams run on the same server), `DJANGO_DEBUG=false`, local
file storage, the sandbox upstream; the bench's own URLconf (`bench.settings`) adds the bare
comparison endpoints under `/bench/` (a token-authenticated ninja GET and POST, an
unauthenticated one, a CSRF-exempt POST, an empty staff page): the product's URLconf has none.
Data: one team of 1,000,000 jobs (84,000 of them this month, 2 ledger rows each), a team of
1,000, 1,000 teams in all; seeded with COPY into the "before" schema and migrated to the
code under test, so a migration's index or backfill runs over it as it would in production.

**Noise.** This machine has 2 cores; the "before" run shared them with other builds and
tests, the "after" run had them to itself but for the bench (the load average is recorded
with each run; the "after" machine is not the "before" one). Absolute numbers move a lot
from one minute to the next; the A/B ratios of one round share the same moment, which is why
each figure is a ratio, and why the spread is given. Read a figure whose range straddles its
target as "not shown either way".
"""


HOW = """\
- **Request path** (POST, GET, auth): 8 keep-alive connections, closed loop, requests/s of
  the product's endpoint over the bare one's, in the same round. The creates use a catalogue
  template with one text and no image; between sides the POST teams' jobs are ended, so each
  side starts from teams with nothing waiting. "8 teams": connection i uses team i's token.
- **Depth** (API list, portal list, `/usage/`, dashboard): one connection, sequential
  requests for 3 s and at least 3 per side, median latency of the big side over the small
  one (for the dashboard: over the empty staff page). The deep pages are 90 % deep: the API
  via a cursor aimed at the job at 90 % (page 1's `next_cursor` re-aimed), the portal list via
  `?page=N` or its "Older" link re-aimed; each run checks the page starts at the expected job.
- **Callbacks**: 8 connections pushing MiniMax progress pushes to 40 processing jobs against
  the bare CSRF-exempt POST; then the challenge echo timed on a 9th connection while the 8
  push.
- **Event streams**: N streams opened on `/api/v1/videos/{id}/events` (caps per token and
  team lifted for the bench), then `/healthz` and a bare API GET timed on their own connection
  for 4 s while they stay open. The machine's PostgreSQL (100 connections) is shared with
  other work: opening stops when the bench's database holds 60 connections, and the figure
  shows how many streams were open then. A code whose streams each hold a database connection
  stops there.
- **Pipeline**: jobs made over the API, then one cluster (`manage.py worker`, 2 workers) on
  the run's Redis queue against the sandbox (3-second generations); success -> stored is the
  job's `finished_at` minus (`submitted_at` + 3 s). Polling only: no `PUBLIC_BASE_URL`, so no
  callback URL is sent; with callbacks: `PUBLIC_BASE_URL` is the bench's server, and the
  sandbox pushes to it when the video is ready.
- **Storing a 200 MB result**: a MiniMax stand-in of the bench's own (bench/bigupstream.py)
  whose task has succeeded and whose video is the sandbox's MP4 padded with a `free` box to
  200 MB (still decodable); one processing job's look is handed to one cluster, and the time
  from the download's first byte asked (at the stand-in) to the job stored is set against
  `curl -s -o` of the same URL, alternating, 3 rounds after a warm-up. RSS growth: the
  worker's whole process tree sampled every 0.2 s during the store, over its level before.
  Into S3 (moto's server, what `make test-services` starts; production's storage) in the
  main run; into local files (`BENCH_ALL=1` or `BENCH_ONLY=store`) as the harness's own
  baseline. moto is a Python server on the same 2 cores: its share of the S3 time is the
  machine's, not the portal's.
- **Re-polls** (outside the 15-minute run: `BENCH_ALL=1` or `BENCH_ONLY=repoll`, ~2.5
  min): 10,000 tasks made at the sandbox directly (10-minute generations), COPY'd as
  processing jobs at the poll cap (5 min) with their next look spread over one interval, then
  one cluster (2 workers) for 90 s: how late each due look is (its claim's time minus its
  due time), how many due looks are still not made 10 s before the end, and the RSS of the
  worker and all its processes sampled every 2 s. A 90 s window cannot show a look 5 minutes
  late; it shows whether the cluster keeps up (a backlog that grows would get there).
"""


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _cell(run: dict[str, Any] | None, key: str) -> str:
    if run is None:
        return "not run"
    fig = run.get("figures", {}).get(key)
    if fig is None:
        return "not run"
    if "error" in fig:
        return f"failed: {fig['error'][:120]}"
    return f"**{fig.get('shown', '?')}**<br><small>{fig.get('spread_shown', '')}</small>"


def _met(run: dict[str, Any] | None, key: str) -> str:
    fig = (run or {}).get("figures", {}).get(key)
    if not fig or "error" in fig or "met" not in fig:
        return "—"
    return "met" if fig["met"] else "**not met**"


def _machine(label: str, run: dict[str, Any] | None) -> str:
    if run is None:
        return f"- **{label}**: not run yet\n"
    m = run.get("machine", {})
    v = m.get("versions", {})
    conf = run.get("config", {})
    load = m.get("load_at_start") or []
    return (
        f"- **{label}**: {run.get('date')} UTC, commit `{run.get('commit')}`; "
        f"{m.get('cores')} cores ({m.get('cpu')}), {m.get('ram')} RAM, load at start "
        f"{', '.join(f'{x:.1f}' for x in load)}; {m.get('os')}; "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f"; size `{conf.get('size')}`, {conf.get('rounds')} rounds of {conf.get('seconds')} s, "
        f"{conf.get('connections')} connections; seed {run.get('seed', {}).get('seconds')} s "
        f"({'kept' if run.get('seed', {}).get('kept') else 'seeded in this run'}); "
        f"whole run {run.get('total_seconds')} s\n"
    )


def render(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    lines = [INTRO, "## Runs\n", _machine("before", before), _machine("after", after), ""]
    lines.append("## Figures\n")
    lines.append("| figure | target | before | after | after: target |")
    lines.append("|---|---|---|---|---|")
    for fig in FIGURES:
        lines.append(
            f"| {fig.title} | {fig.target} | {_cell(before, fig.key)} | {_cell(after, fig.key)} "
            f"| {_met(after, fig.key)} |"
        )
    for title, target in NOT_MEASURED.values():
        lines.append(f"| {title} | {target} | not measured | not measured | — |")
    lines.append("")
    lines.append("## How each figure is taken\n")
    lines.append(HOW)
    lines.append("## Details per figure\n")
    for fig in FIGURES:
        for label, run in (("before", before), ("after", after)):
            data = (run or {}).get("figures", {}).get(fig.key)
            if not data or "error" in data:
                continue
            extra = {k: v for k, v in data.items() if k.endswith(("_rps", "_p50_ms", "_p99_ms"))}
            if extra:
                parts = ", ".join(
                    f"{k} {v['median']:.1f} ({v['min']:.1f}-{v['max']:.1f})"
                    for k, v in extra.items()
                )
                lines.append(f"- `{fig.key}` {label}: {parts}")
            if "checks" in data:
                lines.append(f"- `{fig.key}` {label} checks: `{json.dumps(data['checks'])}`")
            if "challenge_under_load" in data:
                c = data["challenge_under_load"]
                lines.append(
                    f"- `{fig.key}` {label}: challenge echo p50 {c['p50_ms']} ms, p99 "
                    f"{c['p99_ms']} ms, max {c['max_ms']} ms over {c['requests']} echoes"
                )
    lines.append("")
    return "\n".join(lines)


# The hand-written part: profiles of the figures and why one is not met (kept beside the code).
ANALYSIS = Path(__file__).resolve().parent / "analysis.md"


def write(path: Path, results: Path) -> None:
    before = _load(results / "before.json")
    after = _load(results / "after.json")
    analysis = ANALYSIS.read_text() if ANALYSIS.exists() else ""
    path.write_text(render(before, after) + ("\n" + analysis if analysis else ""))


if __name__ == "__main__":
    import django

    django.setup()
    root = Path(__file__).resolve().parent.parent
    write(root / "docs" / "benchmarks.md", root / "bench" / "results")
