"""How the pages show a service's refusal (portal.errors.DomainError), in one place.

In a form view: `show_on_form(form, exc)` puts the message next to the field at fault (or at
the top of the form); an action that goes back to its page: `show_as_message`. Anywhere else
a page view lets it rise: DomainErrorMiddleware turns it into the error page with the
refusal's own status (403, 404, 409...) and message.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.errors import DomainError


def show_as_message(request: HttpRequest, exc: DomainError) -> None:
    """A refused action that returns to its page: the refusal as an error message there.
    Not allowed or not found is no message: it rises to the error page with its status."""
    if exc.status in (403, 404):
        raise exc
    messages.error(request, str(exc))


def show_on_form(
    form: forms.Form, exc: DomainError, field_for: Callable[[str], str | None] | None = None
) -> None:
    field = exc.field or ""
    if field_for is not None:
        field = field_for(field) or ""
    form.add_error(field if field in form.fields else None, exc.message)


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, DomainError) or request.path.startswith("/api/"):
            return None  # the API maps its own (portal.api.errors)
        return render(
            request, "error.html", {"status": exc.status, "message": exc.message}, status=exc.status
        )
