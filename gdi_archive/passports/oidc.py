"""Sign-in through any standard OpenID Connect provider (LS Login, Keycloak, ...), with authlib.

Configured by OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET. A person is linked by
(issuer, subject) in ExternalIdentity, never by e-mail or user name (those can be claimed by
someone else at the provider). The provider's `ga4gh_passport_v1` visas from userinfo are
checked like any passport's (the provider must be in TRUSTED_ISSUERS for its own visas to
count); the datasets they grant are kept in the session until the earliest visa expires and
are added to what `granted_datasets` answers for this signed-in session.
"""

import logging
import time

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib.auth import login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from pydantic import ValidationError

from gdi_archive.accounts.models import ExternalIdentity
from gdi_archive.audit.services import record

from .clearinghouse import external_user, grants_from_visas
from .verify import Refused, check_identity, check_visas

log = logging.getLogger(__name__)

SCOPE = "openid email profile ga4gh_passport_v1"
SESSION_GRANTS = "passport_grants"  # {"datasets": [...], "expires": epoch, "issuer": iss}
_clients: dict[tuple, object] = {}


def _client():
    if not (settings.OIDC_ISSUER and settings.OIDC_CLIENT_ID):
        raise Http404("Sign-in with an identity provider is not configured.")
    issuer = settings.OIDC_ISSUER.rstrip("/")
    key = (issuer, settings.OIDC_CLIENT_ID)
    if key not in _clients:
        oauth = OAuth()
        _clients[key] = oauth.register(
            name="oidc",
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_id=settings.OIDC_CLIENT_ID,
            client_secret=settings.OIDC_CLIENT_SECRET,
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": 10},
        )
    return _clients[key]


@never_cache
@require_GET
def oidc_login(request):
    """Start the authorization-code flow (PKCE, state and nonce kept in the session)."""
    client = _client()
    next_url = request.GET.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        request.session["oidc_next"] = next_url
    else:
        request.session.pop("oidc_next", None)
    try:
        return client.authorize_redirect(request, settings.BASE_URL.rstrip("/") + reverse("oidc-callback"))
    except Exception as exc:  # the provider's metadata could not be read
        log.warning("OIDC sign-in could not start: %s", exc.__class__.__name__)
        return _failed(request, "The identity provider could not be reached. Please try again later.", 502)


def _failed(request, detail: str, status: int = 400):
    return render(request, "passports/oidc_error.html", {"detail": detail}, status=status)


def _passport_grants(*, issuer: str, subject: str, visas: list) -> dict | None:
    """Datasets the provider's visas grant (each visa checked by the full checklist)."""
    if not isinstance(visas, list) or not all(isinstance(v, str) for v in visas) or len(visas) > 100:
        log.warning("OIDC sign-in: ga4gh_passport_v1 from %s is not a list of visas; ignored", issuer)
        return None
    now = time.time()
    try:
        checked, _ = check_visas(visas, now=now)
        checked = check_identity(sub=subject, iss=issuer, visas=checked)
    except Refused as exc:
        log.warning("OIDC sign-in: visas from %s refused: %s", issuer, exc)
        return None
    # Our own visas are left out: a signed-in user's entitlements are read live from the database.
    own = settings.BASE_URL.rstrip("/")
    datasets, earliest, _ = grants_from_visas([v for v in checked if v.iss != own], now=now)
    researcher = any(v.type == "ResearcherStatus" and v.by in ("so", "system") for v in checked)
    affiliations = sorted({v.value for v in checked if v.type == "AffiliationAndRole" and v.value})
    return {
        "datasets": sorted(datasets),
        "expires": earliest or 0,
        "issuer": issuer,
        "researcher_status": researcher,
        "affiliations": affiliations,
    }


def _affiliation(info: dict, claims: dict, grants: dict | None) -> str:
    """The person's affiliation as the provider states it: checked visas first, then the claim."""
    values = list((grants or {}).get("affiliations") or [])
    if not values:
        claim = info.get("eduperson_scoped_affiliation") or claims.get("eduperson_scoped_affiliation")
        values = [claim] if isinstance(claim, str) else [v for v in (claim or []) if isinstance(v, str)]
    return "; ".join(values)[:300]


@never_cache
@require_GET
def oidc_callback(request):
    client = _client()
    try:
        token = client.authorize_access_token(request)
        claims = token.get("userinfo") or {}
        info = client.userinfo(token=token)
    except OAuthError as exc:
        log.warning("OIDC sign-in failed: %s", exc.error)
        return _failed(request, "Sign-in was cancelled or did not complete. Please try again.")
    except (ValueError, KeyError, ValidationError) as exc:
        log.warning("OIDC sign-in failed: %s", exc.__class__.__name__)
        return _failed(request, "The identity provider's answer could not be used. Please try again.")
    except Exception as exc:  # network errors talking to the provider
        log.warning("OIDC sign-in failed: %s", exc.__class__.__name__)
        return _failed(request, "The identity provider could not be reached. Please try again later.", 502)
    issuer = str(claims.get("iss") or client.load_server_metadata().get("issuer", "")).rstrip("/")
    subject = claims.get("sub")
    if not issuer or not isinstance(subject, str) or not subject or info.get("sub") != subject:
        log.warning("OIDC sign-in: userinfo subject does not match the ID token")
        return _failed(request, "The identity provider's answer could not be used. Please try again.")

    user = external_user(iss=issuer, sub=subject)
    if not user.is_active:
        return _failed(request, "This account is disabled.", 403)
    changed = []
    for field, claim in (("email", "email"), ("first_name", "given_name"), ("last_name", "family_name")):
        value = info.get(claim) or claims.get(claim)
        if isinstance(value, str) and value and getattr(user, field) != value[:150]:
            setattr(user, field, value[:150])
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    grants = _passport_grants(issuer=issuer, subject=subject, visas=info.get("ga4gh_passport_v1", []))
    now = timezone.now()
    ExternalIdentity.objects.filter(user=user, issuer=issuer, subject=subject).update(
        last_login_at=now,
        affiliation=_affiliation(info, claims, grants),
        researcher_status_at=now if (grants or {}).get("researcher_status") else None,
    )

    next_url = request.session.pop("oidc_next", None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if grants:
        request.session[SESSION_GRANTS] = grants
    record(
        action="accounts.oidc.login",
        actor=user,
        target=user,
        request=request,
        details={"issuer": issuer, "datasets_from_visas": (grants or {}).get("datasets", [])},
    )
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)
