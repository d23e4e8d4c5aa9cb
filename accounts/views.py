from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import KeyForm, SignUpForm
from accounts.selectors import keys_for_user


def signup(request):
    if request.user.is_authenticated:
        return redirect("videos:gallery")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()  # the post_save signal gives the user a personal team
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Add your MiniMax API key to start making videos.")
        return redirect("accounts:keys")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def keys(request):
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = services.key_store(user=request.user, **form.cleaned_data)
        except services.KeyInputError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Key “{key.label}” saved (…{key.last4}).")
            return redirect("accounts:keys")
    return render(
        request, "accounts/keys.html", {"form": form, "keys": keys_for_user(user=request.user)}
    )


@login_required
@require_POST
def key_delete(request, key_id: int):
    key = get_object_or_404(keys_for_user(user=request.user), pk=key_id)
    try:
        services.key_delete(key=key)
    except services.KeyInUseError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Key “{key.label}” deleted.")
    return redirect("accounts:keys")
