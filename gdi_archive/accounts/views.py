"""Sign-in pages and "My keys" (the Crypt4GH public keys downloads are encrypted to)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

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
@require_POST
def revoke_key(request, pk):
    try:
        services.revoke_public_key(user=request.user, key_pk=pk, request=request)
    except NotFound:
        raise Http404 from None
    except ArchiveError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("The key was revoked."))
    return redirect("my-keys")
