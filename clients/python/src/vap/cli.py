"""`vap`: the Video Agent Portal from the command line.

    vap templates
    vap create --template Diving --image photo.jpg [--text VALUE ...] --wait --out video.mp4
    vap batch create rows.csv --template Diving --images images.zip --wait --out videos/
    vap jobs | vap get ID | vap download ID [--out FILE] | vap cancel ID

The token comes from `--token` or VAP_TOKEN, the portal from `--url` or VAP_URL. Exit codes:
EXIT_CODES below (0 done, 1 a video failed, 2 bad usage, 3 the token, 4 not found, 5 refused,
6 the portal could not be reached or broke).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from vap import __version__
from vap.api import TERMINAL, Api, ApiError, ConnectionFailed, Event
from vap.follow import wait_job, wait_jobs
from vap.inputs import ImageSource, InputError, media_value, read_rows, text_values

DEFAULT_URL = "http://127.0.0.1:8000"
OK, FAILED, USAGE, AUTH, NOT_FOUND, REFUSED, UNAVAILABLE = 0, 1, 2, 3, 4, 5, 6
EXIT_CODES = {
    OK: "done",
    FAILED: "a video (or a batch's video) failed or was canceled",
    USAGE: "bad arguments or input files, no token",
    AUTH: "the token was refused (401) or lacks the right (403)",
    NOT_FOUND: "no such template, video or batch (404)",
    REFUSED: "the portal refused the request (400 402 409 413 422)",
    UNAVAILABLE: "the portal could not be reached, or failed (5xx)",
}

# No markup: what is printed holds the portal's words and the user's file names.
err = Console(stderr=True, highlight=False, markup=False)
out = Console(highlight=False, markup=False)


class Usage(Exception):
    """A mistake in the command line itself (exit 2)."""


def exit_code_for(error: ApiError) -> int:
    if error.status in (401, 403):
        return AUTH
    if error.status == 404:
        return NOT_FOUND
    if error.status >= 500:
        return UNAVAILABLE
    return REFUSED


# --- commands ------------------------------------------------------------------------------


def cmd_templates(api: Api, args) -> int:
    templates = api.templates(provider=args.provider)
    if args.json:
        print(json.dumps(templates, indent=2))
        return OK
    show_table(
        ["name", "provider", "template_id", "images", "texts", "price"],
        [
            [
                t["name"],
                t["provider"],
                t["template_id"],
                str(t["media_inputs"]),
                str(t["text_inputs"]),
                f"${t['price_cents'] / 100:.2f}",
            ]
            for t in templates
        ],
    )
    return OK


def find_template(api: Api, wanted: str, provider: str | None) -> dict:
    """By name (any case), upstream template id or portal id; of several providers' (Diving
    is at MiniMax and at useapi.net) the first listed, unless `--provider` says."""
    templates = api.templates(provider=provider)
    matches = [
        t
        for t in templates
        if t["name"].casefold() == wanted.casefold() or wanted in (t["template_id"], str(t["id"]))
    ]
    if not matches:
        names = ", ".join(sorted({t["name"] for t in templates})) or "none"
        raise ApiError(404, "no_template", f"no template {wanted!r}; the templates: {names}")
    chosen = matches[0]
    others = {t["provider"] for t in matches} - {chosen["provider"]}
    if others and provider is None:
        err.print(
            f"{chosen['name']} is offered by {chosen['provider']} and {', '.join(sorted(others))}: "
            f"using {chosen['provider']} (--provider to choose)"
        )
    return chosen


def key_for(api: Api, template: dict, args) -> int | None:
    """`--key-id`, or with `--provider` a usable key of that provider: the portal picks the
    provider by the key when several offer the same template id (Diving), so it is pinned."""
    if args.key_id or not args.provider:
        return args.key_id
    for key in api.vault_keys():
        if (key["provider"], key["region"], key["status"]) == (
            template["provider"],
            template["region"],
            "active",
        ):
            return int(key["id"])
    raise InputError("--provider", f"none of your keys is an active {template['provider']} key")


def cmd_create(api: Api, args) -> int:
    template = find_template(api, args.template, args.provider)
    images = ImageSource(folder=Path.cwd())
    if len(args.image) != template["media_inputs"]:
        raise InputError(
            "--image",
            f"{template['name']} takes {template['media_inputs']} image(s), "
            f"{len(args.image)} given",
        )
    body: dict = {
        "template_id": template["template_id"],
        "media_inputs": [
            {"value": media_value(value, f"--image {value}", images=images)} for value in args.image
        ],
        "text_inputs": [{"value": v} for v in text_values(args.text, template["text_inputs"])],
    }
    if len(body["text_inputs"]) != template["text_inputs"]:
        raise InputError(
            "--text",
            f"{template['name']} takes {template['text_inputs']} text(s), "
            f"{len(body['text_inputs'])} given",
        )
    if args.reference:
        body["reference"] = args.reference
    key_id = key_for(api, template, args)
    if key_id:
        body["key_id"] = key_id
    if args.callback_url:
        body["callback_url"] = args.callback_url
    # Always sent: when an answer is lost the request is sent again (Api.create_retries)
    # and gives the first job back instead of a second video.
    job = api.video_create(body, idempotency_key=args.idempotency_key or str(uuid.uuid4()))
    err.print(f"Video {job['id']} ({template['name']}): {job['status']}")
    if not (args.wait or args.out):
        print(job["id"])
        return OK
    job = follow_one(api, job)
    return finish_one(api, job, args.out, as_json=args.json)


def follow_one(api: Api, job: dict) -> dict:
    if job["status"] in TERMINAL:
        return job
    with progress_bar() as bar:
        task = bar.add_task(job["status"], total=100, completed=job["progress"])

        def shown(event: Event) -> None:
            data = event.data
            if "progress" in data:
                bar.update(task, completed=data["progress"])
            if event.event == "status" and data.get("status"):
                bar.update(task, description=data["status"])
                if not err.is_terminal:  # a log (CI, a pipe): the bar is drawn only at the end
                    when = str(data.get("created_at", ""))[11:19]
                    err.print(f"{when} {data['status']}: {data.get('message', '')}".strip())

        job = wait_job(api, job["id"], on_event=shown)
        bar.update(task, completed=100 if job["status"] == "succeeded" else None)
    return job


def finish_one(api: Api, job: dict, out_path: str | None, *, as_json: bool = False) -> int:
    if job["status"] != "succeeded":
        error = job.get("error") or {}
        err.print(
            f"Video {job['id']} {job['status']}"
            + (f": {error.get('message')} ({error.get('code')})" if error else ""),
            style="red",
        )
        if as_json:
            print(json.dumps(job, indent=2))
        return FAILED
    if out_path:
        target = Path(out_path)
        if target.is_dir() or out_path.endswith(("/", os.sep)):
            target = target / f"{job['id']}.mp4"
        size = api.video_download(job["id"], target)
        err.print(f"Saved {target} ({size:,} bytes)")
    if as_json:
        print(json.dumps(job, indent=2))
    else:
        print(job["id"])
    return OK


def cmd_jobs(api: Api, args) -> int:
    jobs = []
    for job in api.videos(status=args.status, limit=args.limit):
        jobs.append(job)
        if len(jobs) >= args.limit:
            break
    if args.json:
        print(json.dumps(jobs, indent=2))
        return OK
    show_table(
        ["id", "status", "%", "created", "template", "reference"],
        [
            [
                job["id"],
                job["status"],
                f"{job['progress']}%",
                job["created_at"][5:16].replace("T", " "),
                job["template_name"],
                job["reference"],
            ]
            for job in jobs
        ],
    )
    return OK


def cmd_get(api: Api, args) -> int:
    print(json.dumps(api.video_get(args.id), indent=2))
    return OK


def cmd_cancel(api: Api, args) -> int:
    job = api.video_cancel(args.id)
    err.print(f"Video {job['id']}: {job['status']}")
    return OK


def cmd_download(api: Api, args) -> int:
    job = api.video_get(args.id)
    if args.wait:
        job = follow_one(api, job)
    if job["status"] != "succeeded":
        return finish_one(api, job, None)
    return finish_one(api, job, args.out or f"{job['id']}.mp4")


# --- batches -------------------------------------------------------------------------------


def job_ids_of(batch: dict) -> list[str]:
    """The batch's jobs, in the order of its items (`jobs` of objects or ids, or `job_ids`)."""
    jobs = batch.get("jobs", batch.get("job_ids")) or []
    return [j["id"] if isinstance(j, dict) else str(j) for j in jobs]


def cmd_batch_create(api: Api, args) -> int:
    template = find_template(api, args.template, args.provider)
    csv_path = Path(args.csv)
    if not csv_path.is_file():
        raise InputError(args.csv, "no such file")
    images = ImageSource(folder=csv_path.parent, archive=Path(args.images) if args.images else None)
    rows = read_rows(csv_path, images=images, template=template)
    if rows.errors:
        for problem in rows.errors:
            err.print(str(problem), style="red")
        err.print(f"{len(rows.errors)} problem(s) in {csv_path.name}: nothing was sent.")
        return USAGE
    body: dict = {
        "template_id": template["template_id"],
        "items": rows.items,
        "name": args.name or csv_path.name,
    }
    key_id = key_for(api, template, args)
    if key_id:
        body["key_id"] = key_id
    if args.callback_url:
        body["callback_url"] = args.callback_url
    try:
        batch = api.batch_create(body, idempotency_key=args.idempotency_key or str(uuid.uuid4()))
    except ApiError as exc:
        explain_item_errors(exc, rows.lines, csv_path.name)
        raise
    ids = job_ids_of(batch)
    err.print(f"Batch {batch['id']}: {len(ids)} video(s) of {template['name']}")
    if not (args.wait or args.out):
        print(batch["id"])
        return OK
    jobs = follow_many(api, ids, Path(args.out) if args.out else None, rows.lines)
    failed = [j for j in jobs if j["status"] != "succeeded"]
    for job, line in zip(jobs, rows.lines, strict=True):
        if job["status"] != "succeeded":
            error = job.get("error") or {}
            err.print(
                f"line {line}: {job['status']} {error.get('message', '')}".rstrip(), style="red"
            )
    err.print(f"{len(jobs) - len(failed)} of {len(jobs)} video(s) succeeded.")
    print(batch["id"])
    return FAILED if failed else OK


def explain_item_errors(exc: ApiError, lines: list[int], name: str) -> None:
    """A 422 names items by index (`items[3].media_inputs[0].value`): say which CSV line."""
    errors = exc.body.get("errors")
    listed = [e for e in (errors if isinstance(errors, list) else []) if isinstance(e, dict)] or [
        {"field": exc.field, "message": exc.detail}
    ]
    for entry in listed:
        field = str(entry.get("field") or "")
        index = entry.get("index")
        if index is None and field.startswith("items["):
            index = field[6:].partition("]")[0]
        try:
            line = lines[int(index)] if index is not None else None
        except (ValueError, IndexError):
            line = None
        if line is not None:
            err.print(f"{name} line {line}: {field}: {entry.get('message', '')}", style="red")


# As the portal's "Download all" ZIP (batches_archive), plus the CSV line of each row.
MANIFEST_HEADER = ["row", "line", "job_id", "status", "error", "video_file", "reference"]


def video_file_name(row: int, reference: str) -> str:
    """`0001-<reference>.mp4` (the reference made safe as a file name), as the portal's ZIP."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", reference).strip(".-")[:60]
    return f"{row:04d}-{safe}.mp4" if safe else f"{row:04d}.mp4"


def csv_cell(value: str) -> str:
    # A spreadsheet must not run a reference or an error message as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def follow_many(api: Api, ids: list[str], out_dir: Path | None, lines: list[int]) -> list[dict]:
    """One bar for the batch, moved by each job's events; each video is downloaded as soon
    as it is done, and a manifest written at the end."""
    progress: dict[str, int] = dict.fromkeys(ids, 0)
    ended: dict[str, str] = {}
    names: dict[str, str] = {}
    lock = threading.Lock()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    with progress_bar() as bar:
        task = bar.add_task(f"0/{len(ids)} done", total=100 * len(ids))

        def redraw() -> None:
            failed = sum(1 for s in ended.values() if s != "succeeded")
            text = f"{len(ended)}/{len(ids)} done" + (f", {failed} failed" if failed else "")
            bar.update(task, completed=sum(progress.values()), description=text)

        def on_event(video_id: str, event: Event) -> None:
            if "progress" in event.data:
                with lock:
                    progress[video_id] = max(progress[video_id], int(event.data["progress"]))
                    redraw()

        def on_finished(job: dict) -> None:
            if job["status"] == "succeeded" and out_dir is not None:
                name = video_file_name(ids.index(job["id"]) + 1, job.get("reference", ""))
                api.video_download(job["id"], out_dir / name)
                names[job["id"]] = name
            with lock:
                progress[job["id"]] = 100
                ended[job["id"]] = job["status"]
                redraw()
                if not err.is_terminal:
                    row = ids.index(job["id"])
                    err.print(f"line {lines[row]}: {job['status']} ({len(ended)}/{len(ids)})")

        jobs = wait_jobs(api, ids, on_event=on_event, on_finished=on_finished)
    if out_dir is not None:
        with open(out_dir / "manifest.csv", "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(MANIFEST_HEADER)
            for row, (job, line) in enumerate(zip(jobs, lines, strict=True), start=1):
                error = (job.get("error") or {}).get("message", "")
                file_name = names.get(job["id"], "")
                cells = [job["id"], job["status"], error, file_name, job.get("reference", "")]
                writer.writerow([row, line, *(csv_cell(str(cell)) for cell in cells)])
        err.print(f"Saved {len(names)} video(s) and manifest.csv in {out_dir}")
    return jobs


def cmd_batch_list(api: Api, args) -> int:
    batches = api.batches()
    if args.json:
        print(json.dumps(batches, indent=2))
        return OK
    rows = []
    for b in batches:
        counts = b.get("counts") or {}
        rows.append(
            [
                str(b["id"]),
                str(b.get("status", "")),
                f"{counts.get('succeeded', 0)}/{counts.get('total', 0)}",
                str(counts.get("failed", 0)),
                str(b.get("created_at", ""))[5:16].replace("T", " "),
                str(b.get("name", "")),
                str(b.get("template_name", "")),
            ]
        )
    show_table(["id", "status", "succeeded", "failed", "created", "name", "template"], rows)
    return OK


def cmd_batch_get(api: Api, args) -> int:
    print(json.dumps(api.batch_get(args.id), indent=2))
    return OK


def cmd_batch_cancel(api: Api, args) -> int:
    batch = api.batch_cancel(args.id)
    err.print(f"Batch {batch['id']}: {batch.get('status', 'canceled')}")
    return OK


def cmd_batch_retry(api: Api, args) -> int:
    batch = api.batch_retry(args.id)
    err.print(f"Batch {batch['id']}: its failed rows run again ({batch.get('status', '')})")
    if not (args.wait or args.out):
        print(batch["id"])
        return OK
    jobs = batch.get("jobs") or []
    ids, rows = job_ids_of(batch), [int(j.get("row", n + 1)) for n, j in enumerate(jobs)]
    followed = follow_many(api, ids, Path(args.out) if args.out else None, rows)
    failed = [j for j in followed if j["status"] != "succeeded"]
    err.print(f"{len(followed) - len(failed)} of {len(followed)} video(s) succeeded.")
    print(batch["id"])
    return FAILED if failed else OK


def cmd_batch_download(api: Api, args) -> int:
    target = Path(args.out or f"batch-{args.id}.zip")
    size = api.batch_archive(args.id, target)
    err.print(f"Saved {target} ({size:,} bytes)")
    return OK


# --- plumbing ------------------------------------------------------------------------------


def show_table(headers: list[str], rows: list[list[str]]) -> None:
    """A table on a terminal; tab-separated lines (a header first) for a pipe or a file."""
    if not out.is_terminal:
        for row in [headers, *rows]:
            print("\t".join(cell.replace("\t", " ") for cell in row))
        return
    # Columns empty on every row are left out; all but the last are never cut or wrapped
    # (the first is an id or a name, what the other commands take).
    shown = [i for i in range(len(headers)) if i == 0 or any(row[i] for row in rows)]
    last = len(shown) - 1
    columns = [
        Column(headers[i], no_wrap=n < last, overflow="ellipsis" if n < last else "fold")
        for n, i in enumerate(shown)
    ]
    table = Table(*columns, box=box.SIMPLE_HEAD)
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    out.print(table)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given before or after the command, either works.
    common.add_argument("--url", default=argparse.SUPPRESS, help="the portal (VAP_URL)")
    common.add_argument("--token", default=argparse.SUPPRESS, help="API token (VAP_TOKEN)")
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the API's JSON"
    )

    main_parser = argparse.ArgumentParser(
        prog="vap",
        description="The Video Agent Portal from the command line.",
        parents=[common],
        epilog="Exit codes: " + "; ".join(f"{c} {m}" for c, m in EXIT_CODES.items()),
    )
    main_parser.add_argument("--version", action="version", version=f"vap {__version__}")
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    templates = commands.add_parser("templates", parents=[common], help="list the templates")
    templates.add_argument("--provider")
    templates.set_defaults(run=cmd_templates)

    def creating(p: argparse.ArgumentParser) -> None:
        p.add_argument("--template", required=True, help="name (e.g. Diving) or template id")
        p.add_argument("--provider", help="when several providers offer the template")
        p.add_argument("--key-id", type=int, help="run it on this vault key")
        p.add_argument("--callback-url", help="receives the signed webhook events")
        p.add_argument("--idempotency-key", help="default: a new one per run")
        p.add_argument("--wait", action="store_true", help="follow it until it ends")
        p.add_argument("--out", help="where the video goes (a batch: a folder); implies --wait")

    create = commands.add_parser("create", parents=[common], help="make one video")
    creating(create)
    create.add_argument("--image", action="append", default=[], help="a file or an http(s) URL")
    create.add_argument(
        "--text", action="append", default=[], help="a text input; N=VALUE for slot N"
    )
    create.add_argument("--reference", help="your own reference, echoed back")
    create.set_defaults(run=cmd_create)

    jobs = commands.add_parser("jobs", parents=[common], help="list videos, newest first")
    jobs.add_argument("--status", choices=["queued", "submitting", "processing", *TERMINAL])
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(run=cmd_jobs)

    for name, run, text in (
        ("get", cmd_get, "one video, as JSON"),
        ("cancel", cmd_cancel, "cancel a video"),
    ):
        p = commands.add_parser(name, parents=[common], help=text)
        p.add_argument("id")
        p.set_defaults(run=run)

    download = commands.add_parser("download", parents=[common], help="save a video")
    download.add_argument("id")
    download.add_argument("--out", help="file or folder (default: ./<id>.mp4)")
    download.add_argument("--wait", action="store_true", help="wait for it to finish first")
    download.set_defaults(run=cmd_download)

    batch = commands.add_parser("batch", parents=[common], help="many videos at once")
    batch_commands = batch.add_subparsers(dest="batch_command", required=True, metavar="COMMAND")
    batch_create = batch_commands.add_parser(
        "create",
        parents=[common],
        help="one video per CSV row",
        description=(
            "One video per row, as the portal's New batch CSV: `image` (more: image_2, ...) "
            "names an image file (inside --images, or beside the CSV) or an http(s) URL; "
            "`text` (text_1, text_2, ...) the texts; `reference` is echoed back and names the "
            "video file. Every row is checked before anything is sent."
        ),
    )
    batch_create.add_argument("csv", help="the rows (UTF-8, a header row first)")
    batch_create.add_argument("--images", help="a ZIP holding the images the CSV names")
    batch_create.add_argument("--name", help="the batch's name (default: the CSV's file name)")
    creating(batch_create)
    batch_create.set_defaults(run=cmd_batch_create)
    for name, run, text in (
        ("list", cmd_batch_list, "list batches"),
        ("get", cmd_batch_get, "one batch, as JSON"),
        ("cancel", cmd_batch_cancel, "cancel a batch's waiting videos"),
        ("retry", cmd_batch_retry, "run a batch's failed rows again"),
        ("download", cmd_batch_download, "save a batch's ZIP (videos + manifest)"),
    ):
        p = batch_commands.add_parser(name, parents=[common], help=text)
        if name != "list":
            p.add_argument("id")
        if name == "download":
            p.add_argument("--out", help="default: ./batch-<id>.zip")
        if name == "retry":
            p.add_argument("--wait", action="store_true", help="follow the batch until it ends")
            p.add_argument("--out", help="a folder for the videos (implies --wait)")
        p.set_defaults(run=run)
    return main_parser


def main(argv: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    """The command; `transport` lets tests answer for the portal."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    token = getattr(args, "token", None) or os.environ.get("VAP_TOKEN", "")
    url = getattr(args, "url", None) or os.environ.get("VAP_URL") or DEFAULT_URL
    args.json = getattr(args, "json", False)
    if not token:
        err.print(
            "vap: no token: set VAP_TOKEN or pass --token "
            "(make one on the portal's Integrations page, or `manage.py create_token USER`)"
        )
        return USAGE
    api = Api(url, token, transport=transport)
    try:
        return args.run(api, args)
    except InputError as exc:
        err.print(f"vap: {exc}")
        return USAGE
    except ApiError as exc:
        hint = " (check VAP_TOKEN / --token)" if exc.status == 401 else ""
        err.print(f"vap: {exc}{hint}")
        return exit_code_for(exc)
    except ConnectionFailed as exc:
        err.print(f"vap: {exc}")
        return UNAVAILABLE
    except KeyboardInterrupt:
        err.print("vap: interrupted (the videos go on at the portal)")
        return 130
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
