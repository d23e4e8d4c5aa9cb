"""vap against a live portal: the test server, a real qcluster and the sandbox upstream."""

from __future__ import annotations

import csv
import json
import uuid
import zipfile
from pathlib import Path

import av
import httpx
import pytest
from vap.api import OPERATIONS

from tests.conftest import make_image
from tests.support import qcluster

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "sandbox" / "assets" / "sample.mp4"


def assert_playable_mp4(path: Path) -> None:
    assert path.read_bytes() == SAMPLE.read_bytes()  # what the sandbox made, whole
    with av.open(str(path)) as container:
        assert "mp4" in container.format.name
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        assert (frame.width, frame.height) == (stream.width, stream.height)


def test_it_calls_only_operations_the_document_has(portal):
    document = httpx.get(f"{portal.url}/api/v1/openapi.json").json()
    found = {
        op["operationId"]: (method.upper(), path.removeprefix("/api/v1"))
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    }
    batches = {k for k in OPERATIONS if k.startswith("batches_")}
    if "batches_create" not in found:
        # The batches API comes with its own branch; until then those five are not served.
        assert not batches & set(found)
        expected = {k: v for k, v in OPERATIONS.items() if k not in batches}
    else:
        expected = OPERATIONS
    assert {k: found.get(k) for k in expected} == expected


def test_it_makes_a_video_and_waits_for_it(portal, photo, tmp_path, owner):
    from videos.services import key_store

    listed = portal.vap("templates", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "Diving" in {t["name"] for t in json.loads(listed.stdout)}

    failing = key_store(user=owner, label="Fails", secret="sk-vap-tests-fail-gen0")
    with qcluster():
        made = portal.vap(
            "create", "--template", "diving", "--image", photo.name, "--reference", "vap-1",
            "--wait", "--out", "video.mp4", cwd=tmp_path,
        )  # fmt: skip
        failed = portal.vap(
            "create", "--template", "Diving", "--image", photo.name, "--key-id", str(failing.pk),
            "--wait", "--out", "failed.mp4", cwd=tmp_path,
        )  # fmt: skip
    assert failed.returncode == 1, failed.stderr
    assert " failed: " in failed.stderr and "(upstream_failed)" in failed.stderr
    assert not (tmp_path / "failed.mp4").exists()
    assert made.returncode == 0, made.stderr
    assert_playable_mp4(tmp_path / "video.mp4")
    job_id = made.stdout.strip()
    # Followed through its event stream: each status as it came (a pipe gets lines, not a bar).
    statuses = [line.split()[1] for line in made.stderr.splitlines() if line[:2].isdigit()]
    assert statuses == ["queued:", "submitting:", "processing:", "succeeded:"], made.stderr
    assert "Saved video.mp4" in made.stderr

    jobs = portal.vap("jobs", "--status", "succeeded", "--json", cwd=tmp_path)
    (job,) = json.loads(jobs.stdout)
    assert (job["id"], job["status"], job["reference"]) == (job_id, "succeeded", "vap-1")

    again = portal.vap("download", job_id, "--out", "again.mp4", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert_playable_mp4(tmp_path / "again.mp4")


def test_it_explains_refusals_with_their_exit_codes(portal, photo, tmp_path):
    bad_token = portal.vap("templates", cwd=tmp_path, token="vap_not-a-real-token")
    assert bad_token.returncode == 3
    assert "401" in bad_token.stderr and "VAP_TOKEN" in bad_token.stderr

    missing = portal.vap("get", str(uuid.uuid4()), cwd=tmp_path)
    assert missing.returncode == 4 and "no such video" in missing.stderr

    # Checked here: Diving takes one image; nothing is sent.
    no_image = portal.vap("create", "--template", "Diving", cwd=tmp_path)
    assert no_image.returncode == 2 and "takes 1 image(s), 0 given" in no_image.stderr

    # Refused by the portal, which names the field.
    too_long = portal.vap(
        "create", "--template", "Run for Life", "--image", photo.name, "--text", "x" * 600,
        cwd=tmp_path,
    )  # fmt: skip
    assert too_long.returncode == 5, too_long.stderr
    assert "text_inputs[0].value: String should have at most 500 characters [HTTP 422" in (
        too_long.stderr
    )

    unknown = portal.vap("create", "--template", "No Such Thing", cwd=tmp_path)
    assert unknown.returncode == 4 and "no template 'No Such Thing'" in unknown.stderr

    unreachable = portal.vap("templates", "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert unreachable.returncode == 6 and "cannot reach" in unreachable.stderr


def batches_served(portal) -> bool:
    document = httpx.get(f"{portal.url}/api/v1/openapi.json").json()
    return "/api/v1/batches" in document["paths"]


def test_it_runs_a_batch_from_a_csv_and_a_zip(portal, tmp_path):
    if not batches_served(portal):
        pytest.skip("the portal does not serve POST /api/v1/batches yet (the batches branch)")
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as archive:
        for n in range(3):
            archive.writestr(f"photos/product-{n}.png", make_image(640 + n * 10, 480, "PNG"))
    with open(tmp_path / "rows.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image", "reference"])
        for n in range(3):
            writer.writerow([f"product-{n}.png", f"sku-{n}"])

    with qcluster():
        ran = portal.vap(
            "batch", "create", "rows.csv", "--template", "Diving", "--images", "images.zip",
            "--wait", "--out", "videos", cwd=tmp_path,
        )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "3 of 3 video(s) succeeded" in ran.stderr
    with open(tmp_path / "videos" / "manifest.csv", newline="") as file:
        manifest = list(csv.DictReader(file))
    assert [(m["row"], m["line"], m["status"]) for m in manifest] == [
        ("1", "2", "succeeded"),
        ("2", "3", "succeeded"),
        ("3", "4", "succeeded"),
    ]
    assert [m["video_file"] for m in manifest] == [
        "0001-sku-0.mp4",
        "0002-sku-1.mp4",
        "0003-sku-2.mp4",
    ]
    for entry in manifest:
        assert_playable_mp4(tmp_path / "videos" / entry["video_file"])
    from videos.models import Job

    references = set(Job.objects.filter(team=portal.team).values_list("reference", flat=True))
    assert references == {"sku-0", "sku-1", "sku-2"}


def test_it_reports_every_bad_row_and_sends_nothing(portal, tmp_path):
    (tmp_path / "ok.png").write_bytes(make_image())
    (tmp_path / "notes.txt").write_text("not an image")
    with open(tmp_path / "rows.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image", "reference"])
        writer.writerows([["ok.png", "a"], ["missing.png", "b"], ["notes.txt", "c"], ["", "d"]])
    ran = portal.vap("batch", "create", "rows.csv", "--template", "Diving", cwd=tmp_path)
    assert ran.returncode == 2
    assert "rows.csv line 3, column image: no image named 'missing.png'" in ran.stderr
    assert "rows.csv line 4, column image: not a PNG, JPEG or WebP image" in ran.stderr
    assert "rows.csv line 5, column image: an image is required" in ran.stderr
    assert "3 problem(s) in rows.csv: nothing was sent." in ran.stderr
    from videos.models import Job

    assert not Job.objects.exists()


def test_it_names_the_csv_line_of_an_item_the_portal_refuses(portal, tmp_path):
    if not batches_served(portal):
        pytest.skip("the portal does not serve POST /api/v1/batches yet (the batches branch)")
    (tmp_path / "ok.png").write_bytes(make_image())
    (tmp_path / "tiny.png").write_bytes(make_image(200, 150))  # the portal's rule: > 300 px
    with open(tmp_path / "rows.csv", "w", newline="") as file:
        csv.writer(file).writerows([["image"], ["ok.png"], ["tiny.png"], ["ok.png"]])
    ran = portal.vap("batch", "create", "rows.csv", "--template", "Diving", cwd=tmp_path)
    assert ran.returncode == 5, ran.stderr
    assert "rows.csv line 3: items[1].media_inputs[0]" in ran.stderr
    from batches.models import Batch
    from videos.models import Job

    assert not Batch.objects.exists() and not Job.objects.exists()
