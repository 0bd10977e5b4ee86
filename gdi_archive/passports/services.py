"""Visa issuing, passport tokens and broker API keys: the one write path for this app.

Our visas say what the database says now: ControlledAccessGrants per live entitlement,
AcceptedTermsAndPolicies per accepted terms, ResearcherStatus when a steward confirmed the
user. Their `exp` is never later than the entitlement's end, and never more than
`VISA_MAX_AGE` (or the passport's lifetime) away, so other clearinghouses, which cannot see a
revocation, stop honouring a visa soon after it.
"""

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from joserfc import jwt

from gdi_archive.access.models import Entitlement, TermsAcceptance
from gdi_archive.access.selectors import blocked_datasets
from gdi_archive.audit.services import record
from gdi_archive.common.errors import InvalidInput, NotFound

from . import keys
from .claims import PASSPORT_TYP
from .models import BrokerApiKey, PassportToken, token_hash
from .verify import metrics

VISA_TYP = "vnd.ga4gh.visa+jwt"
# The GA4GH Registered Access bona fide researcher standard (ResearcherStatus value).
REGISTERED_ACCESS = "https://doi.org/10.1038/s41431-018-0219-y"


def issuer() -> str:
    return settings.BASE_URL.rstrip("/")


def dac_url(dac) -> str:
    return f"{issuer()}/dacs/{dac.accession}"


def live_dataset_accessions(user) -> frozenset[str]:
    """Datasets the user holds a live (active, started, not ended) entitlement for."""
    if user is None or not getattr(user, "pk", None):
        return frozenset()
    return frozenset(Entitlement.objects.live().filter(user=user).values_list("dataset__accession", flat=True))


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _sign(claims: dict, *, typ: str) -> str:
    key = keys.current_key()
    header = {"alg": key.alg, "kid": key.kid, "jku": keys.jwks_url(), "typ": typ}
    return jwt.encode(header, claims, key.private, algorithms=[key.alg])


def _visa(
    *, user, now: datetime, exp: datetime, type_: str, value: str, source: str, by: str, asserted: datetime
) -> str:
    claims = {
        "iss": issuer(),
        "sub": user.get_username(),
        "iat": _epoch(now),
        "exp": _epoch(exp),
        "jti": str(uuid.uuid4()),
        "ga4gh_visa_v1": {"type": type_, "asserted": _epoch(asserted), "value": value, "source": source, "by": by},
    }
    return _sign(claims, typ=VISA_TYP)


def user_visas(
    *, user, lifetime: int | None = None, now: datetime | None = None, include_expired: bool = False
) -> tuple[list[str], list[str], datetime]:
    """The user's visas now, the dataset accessions they grant, and the earliest grant expiry.

    `include_expired` (REMS's `?expired=true`) adds a visa for each entitlement that has ended or
    was revoked, with `exp` at that moment: a record of what was granted, never a live grant
    (every clearinghouse refuses a visa past its `exp`)."""
    now = now or timezone.now()
    ceiling = now + timedelta(seconds=max(settings.VISA_MAX_AGE, lifetime or 0))
    visas, datasets, earliest = [], [], ceiling
    live_ids = set(Entitlement.objects.live(at=now).filter(user=user).values_list("pk", flat=True))
    entitlements = Entitlement.objects.filter(user=user).select_related("dataset__dac").order_by("pk")
    entitlements = entitlements.filter(start__lte=now) if include_expired else entitlements.filter(pk__in=live_ids)
    blocked = blocked_datasets(user=user)  # a DAC block: no visa for its datasets, to anyone
    for entitlement in entitlements.exclude(dataset__accession__in=blocked):
        live = entitlement.pk in live_ids
        if live:
            exp = min(entitlement.end, ceiling) if entitlement.end else ceiling
        else:
            ended = [moment for moment in (entitlement.end, entitlement.revoked_at) if moment is not None]
            exp = min(min(ended), now) if ended else now
        dataset = entitlement.dataset
        visas.append(
            _visa(
                user=user,
                now=now,
                exp=exp,
                type_="ControlledAccessGrants",
                value=dataset.url,
                source=dac_url(dataset.dac),
                by="dac",
                asserted=entitlement.granted_at,
            )
        )
        if live:
            datasets.append(dataset.accession)
            earliest = min(earliest, exp)
    for acceptance in TermsAcceptance.objects.filter(user=user).select_related("dataset"):
        dataset = acceptance.dataset
        if not dataset.terms_url or acceptance.version != dataset.terms_version:
            continue  # only the current version of terms that have a URL can be named in a visa
        visas.append(
            _visa(
                user=user,
                now=now,
                exp=ceiling,
                type_="AcceptedTermsAndPolicies",
                value=dataset.terms_url,
                source=issuer(),
                by="self",
                asserted=acceptance.accepted_at,
            )
        )
    confirmed = getattr(user, "bona_fide_confirmed_at", None)
    if confirmed:
        visas.append(
            _visa(
                user=user,
                now=now,
                exp=ceiling,
                type_="ResearcherStatus",
                value=REGISTERED_ACCESS,
                source=issuer(),
                by="so",
                asserted=confirmed,
            )
        )
    return visas, datasets, earliest


@transaction.atomic
def issue_permissions(*, user, actor, request=None, include_expired: bool = False) -> list[str]:
    """Visas for `/api/permissions/{user}` (REMS-compatible), audited."""
    visas, datasets, _ = user_visas(user=user, include_expired=include_expired)
    record(
        action="passport.visas.issued",
        actor=actor,
        target=user,
        request=request,
        details={"visas": len(visas), "datasets": datasets, "expired": include_expired},
    )
    return visas


def permissions_subject(name: str):
    """Whom `/api/permissions/{name}` is about: the local user linked to the LS-AAI identity
    (`OIDC_ISSUER`, `name`), so that a broker configured for REMS can ask by the subject it
    knows; else the active local user of that username. Never a subject of any other issuer."""
    from gdi_archive.accounts.models import ExternalIdentity, User

    lsaai = (settings.OIDC_ISSUER or "").rstrip("/")
    if lsaai:
        link = (
            ExternalIdentity.objects.select_related("user")
            .filter(issuer__in={lsaai, lsaai + "/"}, subject=name, user__is_active=True)
            .first()
        )
        if link is not None:
            return link.user
    return User.objects.filter(username=name, is_active=True).first()


@transaction.atomic
def mint_passport_token(
    *, user, lifetime: int | None = None, label: str = "", request=None
) -> tuple[str, PassportToken]:
    """A signed passport (`typ` vnd.ga4gh.passport+jwt) holding the user's visas.

    It expires after `lifetime` seconds (at most PASSPORT_TOKEN_MAX_AGE) or when its first
    visa does, whichever comes first, so a token never outlives what it carries.
    """
    maximum = settings.PASSPORT_TOKEN_MAX_AGE
    if lifetime is None:
        lifetime = maximum
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 60 <= lifetime <= maximum:
        raise InvalidInput(f"lifetime must be a whole number of seconds from 60 to {maximum}.")
    if len(label) > 100:
        raise InvalidInput("The label may have at most 100 characters.")
    # Entitlements are looked up at the exact moment (one approved a moment ago counts); the
    # token's own times are whole seconds, as JWT claims are.
    moment = timezone.now()
    now = moment.replace(microsecond=0)
    visas, datasets, earliest = user_visas(user=user, lifetime=lifetime, now=moment)
    expires_at = min(now + timedelta(seconds=lifetime), earliest)
    jti = str(uuid.uuid4())
    claims = {
        "iss": issuer(),
        "sub": user.get_username(),
        "iat": _epoch(now),
        "exp": _epoch(expires_at),
        "jti": jti,
        "ga4gh_passport_v1": visas,
    }
    token = _sign(claims, typ=PASSPORT_TYP)
    saved = PassportToken.objects.create(
        user=user,
        jti=jti,
        token_sha256=token_hash(token),
        label=label,
        created_at=now,
        expires_at=expires_at,
        datasets=datasets,
    )
    if metrics is not None:
        transaction.on_commit(metrics.PASSPORT_TOKENS.inc)
    record(
        action="passport.token.minted",
        actor=user,
        target=saved,
        request=request,
        details={"jti": jti, "expires_at": expires_at.isoformat(), "datasets": datasets},
    )
    return token, saved


@transaction.atomic
def revoke_passport_token(*, user, token_id: int, actor=None, request=None) -> PassportToken:
    """Revoke one of `user`'s tokens (by its owner, or an operator as `actor`); it is refused
    from the next request on."""
    saved = PassportToken.objects.select_for_update().filter(user=user, pk=token_id).first()
    if saved is None:
        raise NotFound("No such token.")
    if saved.revoked_at is None:
        saved.revoked_at = timezone.now()
        saved.save(update_fields=["revoked_at"])
        record(
            action="passport.token.revoked",
            actor=actor or user,
            target=saved,
            request=request,
            details={"jti": saved.jti},
        )
    return saved


@transaction.atomic
def create_broker_api_key(*, name: str, actor, request=None) -> tuple[str, BrokerApiKey]:
    """A new API key; the caller shows it once. Only its hash is stored."""
    key = "gdik_" + secrets.token_urlsafe(32)
    saved = BrokerApiKey.objects.create(
        name=name, key_prefix=key[:12], key_sha256=hashlib.sha256(key.encode()).hexdigest()
    )
    record(action="passport.broker_key.created", actor=actor, target=saved, request=request, details={"name": name})
    return key, saved


def broker_for_api_key(key: str) -> BrokerApiKey | None:
    if not key or len(key) > 200:
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()
    broker = BrokerApiKey.objects.filter(key_sha256=digest, revoked_at__isnull=True).first()
    if broker is not None and secrets.compare_digest(broker.key_sha256, digest):
        BrokerApiKey.objects.filter(pk=broker.pk).update(last_used_at=timezone.now())
        return broker
    return None
