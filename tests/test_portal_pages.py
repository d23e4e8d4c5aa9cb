"""The portal's frame and lists: current page, error pages, favicon, filters, sandbox hints."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from videos.models import Job, JobStatus


def test_it_marks_the_current_page_in_the_top_bar(owner_client, catalogue):
    body = owner_client.get(reverse("videos:job_list")).content.decode()
    assert 'class="current" aria-current="page">Jobs</a>' in body
    assert body.count('aria-current="page"') == 1
    assert '<a class="skip-link" href="#main">' in body and '<main id="main"' in body


def test_it_shows_the_custom_404_to_an_outsider_with_debug_off(
    client, outsider, make_job, settings
):
    settings.DEBUG = False
    job = make_job()
    client.force_login(outsider)
    response = client.get(reverse("videos:job_detail", args=[job.id]))
    assert response.status_code == 404
    body = response.content.decode()
    assert 'class="card narrow error-page" data-status="404"' in body
    assert "Back to the templates" in body
    unknown = client.get("/no/such/page/")
    assert unknown.status_code == 404 and "error-page" in unknown.content.decode()


def test_it_renders_the_500_page_without_a_request(settings):
    from django.template.loader import render_to_string

    body = render_to_string("500.html")
    assert "Something broke" in body and "/static/css/portal.css" in body


def test_it_answers_a_custom_500_when_a_view_breaks(owner, settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.setattr(
        "videos.views.templates_active", lambda: (_ for _ in ()).throw(RuntimeError("boom"))
    )
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    response = client.get(reverse("videos:gallery"))
    assert response.status_code == 500
    assert "Something broke on our side" in response.content.decode()


def test_it_serves_the_favicon_from_static(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("favicon.ico")
    assert client.get(response["Location"]).status_code == 200


def test_it_filters_the_job_list_by_status_template_and_reference(
    owner_client, make_job, run_for_life, png
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from videos.services import MediaInput

    a = make_job(reference="order-17")
    b = make_job(reference="order-18")
    c = make_job(
        template=run_for_life,
        text_inputs=["Lion"],
        reference="other",
        media_inputs=[MediaInput(upload=SimpleUploadedFile("me.png", png))],
    )
    Job.objects.filter(pk=b.pk).update(status=JobStatus.PROCESSING)

    def listed(**query):
        page = owner_client.get(reverse("videos:job_list"), query).context["page"]
        return {j.pk for j in page.object_list}

    assert listed() == {a.pk, b.pk, c.pk}
    assert listed(q="ORDER-1") == {a.pk, b.pk}
    assert listed(status="processing") == {b.pk}
    assert listed(status="running") == {a.pk, b.pk, c.pk}
    assert listed(template=run_for_life.pk) == {c.pk}
    assert listed(template="999999", status="bogus") == {a.pk, b.pk, c.pk}
    body = owner_client.get(reverse("videos:job_list"), {"q": "nothing"}).content.decode()
    assert "No job matches these filters" in body


def test_it_keeps_the_filters_in_the_pager_links(owner_client, make_job, settings):
    settings.JOBS_PER_PAGE = 1
    make_job(reference="r1")
    make_job(reference="r2")
    body = owner_client.get(reverse("videos:job_list"), {"q": "r"}).content.decode()
    assert "?q=r&amp;after=" in body


def test_it_says_what_to_do_when_there_are_no_jobs(owner_client):
    body = owner_client.get(reverse("videos:job_list")).content.decode()
    assert "No videos yet" in body and reverse("videos:keys") in body


def test_it_filters_the_gallery_and_says_a_key_is_needed(owner_client, catalogue):
    response = owner_client.get(reverse("videos:gallery"), {"kind": "text"})
    names = {t.name for t in response.context["templates"]}
    assert names and all(t.media_inputs == 0 for t in response.context["templates"])
    assert "You need an API key first" in response.content.decode()
    response = owner_client.get(reverse("videos:gallery"), {"q": "diving"})
    assert [t.name for t in response.context["templates"]] == ["Diving"]


def test_it_drops_the_key_hint_once_a_key_is_there(owner_client, key, catalogue):
    body = owner_client.get(reverse("videos:gallery")).content.decode()
    assert "You need an API key first" not in body


def test_it_names_the_sandbox_keys_only_against_the_local_sandbox(
    owner_client, catalogue, settings
):
    settings.MINIMAX_BASE_URL = "http://127.0.0.1:8001"
    settings.USEAPI_BASE_URL = "https://api.useapi.net"
    body = owner_client.get(reverse("videos:keys")).content.decode()
    assert "Local sandbox" in body and "sk-demo" in body and "user:1-demo" not in body
    settings.MINIMAX_BASE_URL = "https://api.minimax.io"
    assert "Local sandbox" not in owner_client.get(reverse("videos:gallery")).content.decode()


def test_it_labels_the_last_day_of_a_chart_and_never_two_labels_side_by_side():
    import itertools
    import re

    from billing.charts import Series, stacked_bars

    days = [f"Nov {d}" for d in range(1, 31)]
    svg = str(stacked_bars(days, [Series("succeeded", [1] * 30)], title="Jobs per day"))
    shown = re.findall(r'class="axis" text-anchor="middle">([^<]+)</text>', svg)
    assert shown[0] == "Nov 1" and shown[-1] == "Nov 30"
    positions = [days.index(label) for label in shown]
    assert all(b - a >= 3 for a, b in itertools.pairwise(positions))
