"""JWKS, REMS-style permissions, passport tokens (API and the "Access tokens" page)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication, BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.accounts.permissions import is_operator
from gdi_archive.common.errors import InvalidInput, NotFound
from gdi_archive.common.schema import errors

from . import keys, services
from .models import BrokerApiKey, PassportToken

NO_STORE = {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"}
API_KEY_HEADERS = ("HTTP_X_API_KEY", "HTTP_X_REMS_API_KEY")


@require_GET
def jwks(request):
    response = JsonResponse(keys.jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


class BrokerApiKeyAuthentication(BaseAuthentication):
    """`X-API-Key` (or REMS's `x-rems-api-key`): a broker reading any user's visas."""

    def authenticate(self, request):
        key = next((request.META[h] for h in API_KEY_HEADERS if request.META.get(h)), None)
        if key is None:
            return None
        broker = services.broker_for_api_key(key)
        if broker is None:
            raise AuthenticationFailed("The API key is not valid.")
        return None, broker

    def authenticate_header(self, request):
        return 'Bearer realm="gdi-archive"'


class BrokerApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = BrokerApiKeyAuthentication
    name = "brokerApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "A broker's API key, made in the admin (REMS's x-rems-api-key is accepted too).",
        }


PASSPORT_OUT = inline_serializer(
    "Permissions", {"ga4gh_passport_v1": serializers.ListField(child=serializers.CharField())}
)


class PermissionsView(APIView):
    """GET /api/permissions/{user}: that user's visas (REMS-compatible). `{user}` is a username or
    the `sub` of a linked LS-AAI identity; `?expired=true` adds visas of ended or revoked
    entitlements. Callers: the user themself, an operator, or a broker holding an API key."""

    authentication_classes = [BrokerApiKeyAuthentication, SessionAuthentication, BasicAuthentication]
    permission_classes = []

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "expired",
                str,
                enum=["false", "true"],
                required=False,
                description="true: also visas of expired or revoked entitlements (default false).",
            )
        ],
        responses={200: PASSPORT_OUT, **errors(400, 401, 404)},
        summary="A user's visas (REMS-compatible).",
    )
    def get(self, request, username: str):
        broker = request.auth if isinstance(request.auth, BrokerApiKey) else None
        me = request.user if request.user is not None and request.user.is_authenticated else None
        if broker is None and me is None:
            raise NotAuthenticated()
        expired = request.query_params.get("expired", "false")
        if expired not in ("false", "true"):
            raise InvalidInput('"expired" must be true or false.')
        subject = services.permissions_subject(username)
        # Someone else's (or nobody's) visas look the same to a user: not found.
        if subject is None or (broker is None and not is_operator(me) and subject.pk != me.pk):
            raise NotFound("No such user.")
        visas = services.issue_permissions(
            user=subject, actor=me or f"broker:{broker.name}", request=request, include_expired=expired == "true"
        )
        return Response({"ga4gh_passport_v1": visas}, headers=NO_STORE)


class TokenRequest(serializers.Serializer):
    lifetime = serializers.IntegerField(required=False, min_value=60)
    label = serializers.CharField(required=False, allow_blank=True, max_length=100)

    def validate_lifetime(self, value):
        if value > settings.PASSPORT_TOKEN_MAX_AGE:
            raise serializers.ValidationError(f"At most {settings.PASSPORT_TOKEN_MAX_AGE} seconds.")
        return value


class TokensView(APIView):
    """POST /api/tokens: a passport token for the signed-in user (session, or HTTP Basic for
    scripts). A bearer token cannot mint another one, so a leaked token cannot extend itself."""

    authentication_classes = [SessionAuthentication, BasicAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=TokenRequest,
        summary="Mint a passport token for the signed-in user.",
        responses={
            201: inline_serializer(
                "PassportToken",
                {
                    "token": serializers.CharField(),
                    "token_type": serializers.ChoiceField(choices=["Bearer"]),
                    "expires_at": serializers.DateTimeField(),
                },
            ),
            **errors(400, 401, 429),
        },
    )
    def post(self, request):
        body = TokenRequest(data=request.data or {})
        body.is_valid(raise_exception=True)
        token, saved = services.mint_passport_token(
            user=request.user,
            lifetime=body.validated_data.get("lifetime"),
            label=body.validated_data.get("label", ""),
            request=request,
        )
        return Response(
            {"token": token, "token_type": "Bearer", "expires_at": saved.expires_at.isoformat()},
            status=201,
            headers=NO_STORE,
        )


LIFETIME_CHOICES = [
    (900, gettext_lazy("15 minutes")),
    (3600, gettext_lazy("1 hour")),
    (4 * 3600, gettext_lazy("4 hours")),
    (12 * 3600, gettext_lazy("12 hours")),
    (86400, gettext_lazy("1 day")),
]
READS = ("BAM", "CRAM")
VARIANTS = ("VCF", "BCF")


def _examples(user) -> dict:
    """What the page's examples name: the user's own datasets (live now), one ready file of the
    first, and the key downloads are encrypted to, so the commands work when pasted."""
    from gdi_archive.accounts.models import PublicKey
    from gdi_archive.catalogue.models import Dataset, File

    datasets = list(
        Dataset.objects.filter(
            accession__in=services.live_dataset_accessions(user), status=Dataset.Status.RELEASED
        ).order_by("accession")
    )
    sample = None
    if datasets:
        files = File.objects.filter(datasets__in=datasets, status=File.Status.READY, accession__isnull=False)
        sample = (
            files.filter(format__in=READS + VARIANTS).order_by("accession").first()
            or files.order_by("accession").first()
        )
    return {
        "datasets": datasets,
        "sample_dataset": datasets[0].accession if datasets else "",
        "sample_file": sample,
        "sample_kind": "variants" if sample is not None and sample.format in VARIANTS else "reads",
        "key": PublicKey.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at").first(),
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def access_tokens(request):
    """Mint (shown once), list and revoke my passport tokens."""
    new_token, error = None, None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "mint":
                try:
                    lifetime = int(request.POST.get("lifetime") or settings.PASSPORT_TOKEN_MAX_AGE)
                except ValueError:
                    lifetime = -1
                new_token, _saved = services.mint_passport_token(
                    user=request.user,
                    lifetime=min(lifetime, settings.PASSPORT_TOKEN_MAX_AGE) if lifetime > 0 else lifetime,
                    label=request.POST.get("label", "").strip(),
                    request=request,
                )
            elif action == "revoke":
                services.revoke_passport_token(
                    user=request.user, token_id=int(request.POST.get("token", "0") or 0), request=request
                )
            else:
                error = _("Unknown action.")
        except ValueError:
            error = _("No such token.")
        except (InvalidInput, NotFound) as exc:
            error = exc.detail
    lifetimes = [(s, label) for s, label in LIFETIME_CHOICES if s <= settings.PASSPORT_TOKEN_MAX_AGE] or [
        (
            settings.PASSPORT_TOKEN_MAX_AGE,
            _("%(minutes)s minutes") % {"minutes": settings.PASSPORT_TOKEN_MAX_AGE // 60},
        )
    ]
    context = {
        "new_token": new_token,
        "error": error,
        "tokens": PassportToken.objects.filter(user=request.user)[:50],
        "lifetimes": lifetimes,
        "base_url": settings.BASE_URL.rstrip("/"),
        **_examples(request.user),
    }
    response = render(request, "passports/access_tokens.html", context, status=400 if error else 200)
    response["Pragma"] = "no-cache"
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def revoke_token(request, pk: int):
    """GET: what revoking the token does, and a button (no JavaScript needed); POST: revoke it."""
    token = PassportToken.objects.filter(user=request.user, pk=pk).first()
    if token is None:
        raise Http404
    if request.method == "POST":
        services.revoke_passport_token(user=request.user, token_id=token.pk, request=request)
        messages.success(request, _("The token was revoked: programs using it are refused from now on."))
        return redirect("access-tokens")
    if not token.is_usable:
        messages.info(request, _("This token no longer works: it has expired or was revoked."))
        return redirect("access-tokens")
    name = token.label or timezone.localtime(token.created_at).strftime("%Y-%m-%d %H:%M")
    return render(
        request,
        "confirm.html",
        {
            "title": _("Revoke the token “%(name)s”?") % {"name": name},
            "consequences": [
                _(
                    "Every program that uses this token (curl, htsget clients, the download client) is refused from the next request on; downloads under way stop."
                ),
                _("Your access to the datasets does not change: make a new token when you need one."),
            ],
            "button": _("Revoke token"),
            "action": reverse("access-token-revoke", args=[token.pk]),
            "cancel": reverse("access-tokens"),
        },
    )
