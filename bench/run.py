"""`make bench`: seed (or keep) the database, start the servers, measure, write the report.

Run by bench/run.sh after scripts/services.sh brought PostgreSQL and Redis up (PG_BASE_URL,
REDIS_URL in the environment). Settings come from the environment (README, "Benchmarks"):

  BENCH_QUICK=1        a smaller database (100,000 jobs) and shorter rounds (~5 min)
  BENCH_SIZE=full|quick|toy   the seeded sizes (default full, quick with BENCH_QUICK)
  BENCH_RESEED=1       drop the kept database and seed again
  BENCH_ONLY=a,b       only these figures (keys in bench/figures.py)
  BENCH_ALL=1          also the figures outside the 15 minutes (repoll ~2.5 min, store ~1 min)
  BENCH_LABEL=after    the results' name: bench/results/<label>.json (default "after")
  BENCH_ROUNDS, BENCH_SECONDS   rounds per figure and seconds per side per round
  BENCH_PIPELINE=20,200   jobs of the polling-only and the callback pipeline figures
  BENCH_LOG_LEVEL=INFO    the servers' and workers' log level (bench/.logs/; WARNING)
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
import traceback
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# A throw-away database's fixed secrets: the seeded rows and their sessions stay readable
# from one run to the next. Nothing secret is ever stored in it.
BENCH_SECRET_KEY = "bench-only-" + "x7Qp2vLr9sTz4wKm8nB3cD6fG1hJ5yU0aE"
BENCH_VAULT_KEY = "YmVuY2gtb25seS12YXVsdC1rZXktMzItYnl0ZXMhISE="


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def configure() -> dict[str, Any]:
    quick = _env_flag("BENCH_QUICK")
    size = os.environ.get("BENCH_SIZE") or ("quick" if quick else "full")
    return {
        "quick": quick,
        "size": size,
        "reseed": _env_flag("BENCH_RESEED"),
        "only": [k for k in os.environ.get("BENCH_ONLY", "").split(",") if k.strip()],
        "label": os.environ.get("BENCH_LABEL", "after"),
        "rounds": int(os.environ.get("BENCH_ROUNDS") or (3 if quick else 5)),
        "seconds": float(os.environ.get("BENCH_SECONDS") or (2.0 if quick else 4.0)),
    }


def _database(pg_base: str, name: str, *, recreate: bool) -> str:
    import psycopg

    with psycopg.connect(f"{pg_base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and recreate:
            log(f"dropping {name} (BENCH_RESEED)")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{pg_base}/{name}"


def server_env(database_url: str, sandbox: int, port: int, media: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=BENCH_SECRET_KEY,
        VAULT_KEYS=BENCH_VAULT_KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_COOKIES="false",
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(media),
        STATIC_ROOT=str(media.parent / "static"),
        MINIMAX_BASE_URL=f"http://127.0.0.1:{sandbox}",
        MINIMAX_CN_BASE_URL=f"http://127.0.0.1:{sandbox}",
        USEAPI_BASE_URL=f"http://127.0.0.1:{sandbox}",
        # Production wants a real mail backend; nothing is mailed during a run (no worker).
        EMAIL_BACKEND="",
        EMAIL_URL="smtp://127.0.0.1:9/",
        DJANGO_SILENCED_SYSTEM_CHECKS="accounts.E001",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        # The bench measures what one web host holds, not the per-token and per-team caps.
        SSE_MAX_PER_TOKEN="100000",  # noqa: S106 (a count, not a password)
        SSE_MAX_PER_TEAM="100000",
        # Likewise the default per-key limits (5 at once, 20 creates a minute): the pipeline
        # figures time success -> stored, not the key pool's pacing.
        MINIMAX_KEY_MAX_CONCURRENT="1000",
        MINIMAX_KEY_RPM="100000",
        Q_WORKERS="2",
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        LOG_FORMAT="json",
    )
    env.pop("S3_BUCKET", None)  # local files: the figures are the portal's, not moto's
    return env


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=3)  # noqa: S310 (our own localhost server)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def machine() -> dict[str, Any]:
    import django
    import psycopg

    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    versions = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": psycopg.__version__,
    }
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("gunicorn", "uvicorn", "django-ninja", "django-q2", "redis"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = "?"
    with contextlib.suppress(Exception):  # a version we cannot read is left out
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            versions["postgresql"] = cur.fetchone()[0]
    with contextlib.suppress(Exception):
        versions["redis-server"] = (
            subprocess.run(["redis-server", "--version"], capture_output=True, text=True, timeout=5)
            .stdout.split(" v=")[1]
            .split()[0]
        )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram": mem,
        "load_at_start": os.getloadavg(),
        "os": platform.platform(),
        "versions": versions,
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except Exception:
        return "?"


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))


def _start_worker(env: dict[str, str], extra: dict[str, str], log_path: Path) -> subprocess.Popen:
    """One cluster (`manage.py worker`, as production runs it) with Q_WORKERS=2."""
    out = open(log_path, "ab")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=ROOT,
        env={**env, **extra},
        stdout=out,
        stderr=out,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen, grace: float = 30) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _clear_queue() -> None:
    """This run's django-q2 queue on Redis: emptied before a worker starts, so it runs only
    what the figure hands out (the callback figure's re-queries are not its business)."""
    url, name = os.environ.get("REDIS_URL"), os.environ.get("Q_CLUSTER_NAME")
    if not url or not name:
        return
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    for key in client.scan_iter(match=f"django_q:{name}:*"):
        client.delete(key)


def main() -> int:
    conf = configure()
    started = time.monotonic()
    pg_base = os.environ.get("PG_BASE_URL")
    if not pg_base:
        print(
            "bench: PG_BASE_URL is not set; run it through `make bench` (bench/run.sh)",
            file=sys.stderr,
        )
        return 2
    _raise_fd_limit()
    work = Path(os.environ.get("SERVICES_TMP") or "/tmp") / "bench"  # noqa: S108
    media = work / "media"
    media.mkdir(parents=True, exist_ok=True)
    db_name = f"bench_portal_{conf['size']}"
    database_url = _database(pg_base, db_name, recreate=conf["reseed"])
    sandbox_port, web_port = _free_port(), _free_port()
    env = server_env(database_url, sandbox_port, web_port, media)
    os.environ.update({k: v for k, v in env.items() if k not in ("GUNICORN_BIND",)})

    import django

    django.setup()
    from bench import figures, fixtures, report, seed

    seeded = seed.ensure_seeded(seed.SIZES[conf["size"]], reseed=conf["reseed"], log=log)
    seed_seconds = time.monotonic() - started

    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)  # the manifest production needs
    procs: list[subprocess.Popen] = []
    py = sys.executable
    try:
        sandbox = [py, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)]
        sandbox += ["--generation-seconds", "3", "--quiet"]
        procs.append(subprocess.Popen(sandbox, cwd=ROOT, env=env, start_new_session=True))
        gunicorn = str(Path(py).parent / "gunicorn")
        logs = ROOT / "bench" / ".logs"
        logs.mkdir(exist_ok=True)
        glog = open(logs / f"gunicorn-{conf['label']}.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [gunicorn, "-c", "gunicorn.conf.py", "portal.asgi:application"],
                cwd=ROOT, env=env, stdout=glog, stderr=glog, start_new_session=True,
            )
        )  # fmt: skip
        try:
            _wait_http(f"http://127.0.0.1:{web_port}/readyz", 90)
        except Exception:
            glog.flush()
            tail = (logs / f"gunicorn-{conf['label']}.log").read_text(errors="replace")[-3000:]
            log(f"gunicorn did not answer /readyz; the end of its log:\n{tail}")
            raise
        run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        fx = fixtures.make(seeded, run_id=run_id)
        cfg = figures.Config(rounds=conf["rounds"], seconds=conf["seconds"])
        if conf["quick"]:
            cfg.latency_seconds, cfg.streams, cfg.warmup = 1.5, (16, 200), 0.5
            cfg.pipeline_jobs = (10, 50)
            cfg.repoll = (2_000, 45.0)
            cfg.store_mb = 50
        if conf["size"] == "toy":
            cfg.latency_seconds, cfg.latency_min, cfg.streams, cfg.warmup = 0.3, 2, (4,), 0.1
            cfg.pipeline_jobs = (3, 5)
            cfg.repoll = (50, 15.0)
            cfg.store_mb = 5
        if pipeline := os.environ.get("BENCH_PIPELINE"):
            polling, pushed = (int(n) for n in pipeline.split(","))
            cfg.pipeline_jobs = (polling, pushed)
        ctx = figures.Ctx(port=web_port, seeded=seeded, fx=fx, cfg=cfg, log=log)
        ctx.extra.update(
            start_worker=lambda extra: _start_worker(
                env, extra, logs / f"worker-{conf['label']}.log"
            ),
            stop_worker=_stop,
            clear_queue=_clear_queue,
            sandbox_port=sandbox_port,
            work=work,
        )
        results: dict[str, Any] = {}
        machine_info = machine()
        commit = git_commit()

        def save(final: bool) -> Path:
            """Written after every figure (a run cut short keeps what it measured)."""
            doc: dict[str, Any] = {
                "label": conf["label"],
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "complete": final,
                "commit": commit,
                "machine": machine_info,
                "config": {**conf, "connections": cfg.connections, "streams": cfg.streams},
                "seed": {
                    "size": seeded.size,
                    "seconds": round(seeded.seconds, 1),
                    "kept": seed_seconds < seeded.seconds,
                },
                "total_seconds": round(time.monotonic() - started, 1),
                "figures": dict(results),
            }
            RESULTS.mkdir(parents=True, exist_ok=True)
            out_path = RESULTS / f"{conf['label']}.json"
            if conf["only"] and out_path.exists():
                # A partial run (BENCH_ONLY) replaces its figures and keeps the others.
                kept = json.loads(out_path.read_text())
                for key in ("date", "commit", "machine", "config", "seed", "total_seconds"):
                    doc[key] = kept.get(key, doc[key])
                doc["complete"] = kept.get("complete", final)
                doc["figures"] = {**kept.get("figures", {}), **results}
                runs = [r for r in kept.get("partial_runs", []) if r.get("only") != conf["only"]]
                runs.append(
                    {
                        "date": datetime.now(UTC).isoformat(timespec="seconds"),
                        "only": conf["only"],
                        "commit": commit,
                        "load_at_start": machine_info.get("load_at_start"),
                    }
                )
                doc["partial_runs"] = runs
            out_path.write_text(json.dumps(doc, indent=1, default=str) + "\n")
            return out_path

        for fig in figures.FIGURES:
            if conf["only"] and fig.key not in conf["only"]:
                continue
            if fig.key in figures.OPTIONAL and not (
                conf["only"] or _env_flag("BENCH_ALL") or _env_flag("BENCH_REPOLL")
            ):
                continue  # outside the 15-minute run: BENCH_ALL=1, or BENCH_ONLY=repoll,store
            log(f"figure {fig.key}: {fig.title}")
            t0 = time.monotonic()
            try:
                out = fig.measure(ctx)
            except Exception as exc:
                log(f"  failed: {exc}")
                out = {
                    "error": f"{type(exc).__name__}: {exc}",
                    "trace": traceback.format_exc()[-2000:],
                }
            out["seconds"] = round(time.monotonic() - t0, 1)
            results[fig.key] = out
            save(False)
            if fig.key == "post":
                fixtures.settle_post_jobs(fx)
        out_path = save(True)
        log(f"results: {out_path.relative_to(ROOT)}")
        if conf["size"] != "toy":
            report.write(ROOT / "docs" / "benchmarks.md", RESULTS)
            log("report: docs/benchmarks.md")
        for key, out in results.items():
            verdict = "error" if "error" in out else ("met" if out.get("met") else "not met")
            print(f"{key:20} {verdict:8} {out.get('shown') or out.get('error', '')[:150]}")
        log(f"done in {time.monotonic() - started:.0f} s")
        return 0
    finally:
        for p in procs:
            _stop(p)


if __name__ == "__main__":
    sys.exit(main())
