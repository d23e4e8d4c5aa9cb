"""How a stored file reaches a browser, for every page that serves one (the job page's video
and images, template assets, share links): one path, so S3 and local storage behave alike."""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect


def serve_file(file: FieldFile, content_type: str, *, filename: str = "") -> HttpResponseBase:
    """The file, after the caller checked who may have it; with `filename`, as a download."""
    storage = file.storage
    if getattr(storage, "querystring_auth", False):
        # A private bucket: the caller gets a signed link that expires in minutes
        # (S3_URL_EXPIRE_SECONDS), and the bytes don't tie up a web worker. Not cached, so
        # every visit signs afresh.
        if filename:
            # S3 answers with this Content-Disposition (django-storages' S3Storage.url).
            disposition = {"ResponseContentDisposition": f'attachment; filename="{filename}"'}
            url = storage.url(file.name, parameters=disposition)  # type: ignore[call-arg]
        else:
            url = storage.url(file.name)
        response = redirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    # Local files (and any storage that cannot sign) stream through the app, after the
    # permission check of the caller.
    return FileResponse(
        file.open("rb"),
        content_type=content_type or None,
        as_attachment=bool(filename),
        filename=filename,
    )
