"""Sign-in pages and "My keys" (the Crypt4GH public keys downloads are encrypted to)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from gdi_archive.common.errors import ArchiveError, NotFound

from . import services
from .forms import PublicKeyForm
from .models import PublicKey


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "oidc_enabled": bool(settings.OIDC_ISSUER)}


class LogoutView(auth_views.LogoutView):
    pass


@login_required
def my_keys(request):
    form = PublicKeyForm()
    if request.method == "POST":
        form = PublicKeyForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                key = services.add_public_key(
                    user=request.user, value=form.cleaned_data["key"], label=form.cleaned_data["label"], request=request
                )
            except ArchiveError as exc:
                form.add_error("key", exc.detail)
            else:
                messages.success(request, _("Key %(fp)s… was added.") % {"fp": key.fingerprint[:16]})
                return redirect("my-keys")
    keys = PublicKey.objects.filter(user=request.user)
    return render(request, "accounts/my_keys.html", {"form": form, "keys": keys})


@login_required
@require_http_methods(["GET", "POST"])
def revoke_key(request, pk):
    """GET: what revoking the key does, and a button (no JavaScript needed); POST: revoke it."""
    if request.method == "GET":
        key = PublicKey.objects.filter(user=request.user, pk=pk).first()
        if key is None:
            raise Http404
        if key.revoked_at:
            messages.info(request, _("This key is already revoked."))
            return redirect("my-keys")
        return render(
            request,
            "confirm.html",
            {
                "title": _("Revoke the key “%(name)s”?") % {"name": key.label or key.fingerprint[:16]},
                "consequences": [
                    _("Fingerprint: %(fp)s") % {"fp": key.fingerprint},
                    _(
                        "Downloads are no longer encrypted to this key. Files you already downloaded stay readable with its secret key."
                    ),
                    _("To download again, register another key first."),
                ],
                "button": _("Revoke key"),
                "action": reverse("key-revoke", args=[key.pk]),
                "cancel": reverse("my-keys"),
            },
        )
    try:
        services.revoke_public_key(user=request.user, key_pk=pk, request=request)
    except NotFound:
        raise Http404 from None
    except ArchiveError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("The key was revoked."))
    return redirect("my-keys")
