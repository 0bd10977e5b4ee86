"""From a bearer token to (user, Grants): the archive as a Passport Clearinghouse.

Accepted: our own passport tokens (refused once revoked), passports from brokers in
TRUSTED_ISSUERS, and brokers' access tokens, whose visas come from the broker's userinfo
(cached by token hash until the earliest expiry). Grants are the datasets held here that valid
ControlledAccessGrants visas name (the dataset URL or its bare accession); for visas this
archive issued, only while the entitlement is still live, so a revocation counts at once; for a
broker's, only within the scope of its TRUSTED_ISSUERS entry (`grants`, `by`, `sources`), anything
beyond it ignored and logged as a warning. Our own passport tokens follow their user's live
entitlements (`own_token_grants`): a token made before an approval opens the newly approved dataset too.

A subject from a broker that no local user is linked to gets a passive local account (no
password, linked by (iss, sub) in ExternalIdentity), so that every view can rely on a real
user row; signing in through OIDC later lands on the same account.
"""

import functools
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from pydantic import ValidationError

from gdi_archive.access.models import DACBlock, Entitlement
from gdi_archive.accounts.models import ExternalIdentity, User
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.issuers import source_matches
from gdi_archive.common.rows import instances, model_columns

from .claims import PASSPORT_TYP, UserInfo
from .grants import Grants
from .models import PassportToken, token_hash
from .trust import Untrusted, fetch_json, issuer_for, trusted_issuers
from .verified_cache import already_verified, verified_passport
from .verify import (
    MAX_TOKEN_LENGTH,
    Parsed,
    Refused,
    Visa,
    check_access_token,
    check_visas,
    ignore,
    parse,
    resolve_identity,
)

log = logging.getLogger("gdi_archive.passports.clearinghouse")

USERINFO_CACHE_MAX = 300  # an opaque token's userinfo is asked again at least this often
_ACCESSION = re.compile(r"^[A-Z]{1,10}D\d{11}$")


def dataset_accession(value: str) -> str | None:
    """`{BASE_URL}/datasets/{acc}` or a bare accession; anything else is not ours."""
    prefix = f"{settings.BASE_URL.rstrip('/')}/datasets/"
    if value.startswith(prefix):
        value = value[len(prefix) :]
    return value if _ACCESSION.match(value) else None


def out_of_scope(visa: Visa, reason: str) -> None:
    """A broker's grant beyond what we trust it for: nothing opens, and it is logged as a warning."""
    ignore(
        "scope",
        "out of scope: %s (iss=%s jti=%s value=%r by=%r source=%r)",
        reason,
        visa.iss,
        visa.jti,
        visa.value[:80],
        (visa.by or "")[:40],
        visa.source[:120],
        level=logging.WARNING,
    )


def _scope_refusal(visa: Visa, issuer, *, accession: str, dac: str | None) -> str | None:
    """Why a broker's ControlledAccessGrants may not open `accession` (None: it may)."""
    if issuer is None:
        return "issuer is no longer trusted"
    if visa.by not in issuer.by:
        return f"by {visa.by!r} is not accepted from this issuer (accepted: {sorted(issuer.by)})"
    if issuer.sources is not None and not any(source_matches(visa.source, p) for p in issuer.sources):
        return f"source {visa.source[:120]!r} is outside this issuer's sources"
    if accession not in issuer.grant_datasets and (dac is None or dac not in issuer.grant_dacs):
        return f"dataset {accession} (DAC {dac}) is outside this issuer's grants"
    return None


def grants_from_visas(visas: list[Visa], *, now: float) -> tuple[frozenset[str], int | None, tuple[str, ...]]:
    """Accessions opened by the visas, the earliest expiry among the visas relied on, and
    which visas ("iss#jti") those are. A broker's visa opens only what its TRUSTED_ISSUERS
    entry grants (datasets, or datasets of DACs), with an accepted `by` and `source`."""
    own_iss = settings.BASE_URL.rstrip("/")
    wanted: dict[str, list[Visa]] = {}
    for visa in visas:
        if visa.type != "ControlledAccessGrants" or not visa.by:
            continue  # A.5: ControlledAccessGrants must say who granted it
        accession = dataset_accession(visa.value)
        if accession is None:
            ignore(
                "dataset", "%r is not a dataset of this archive (iss=%s jti=%s)", visa.value[:80], visa.iss, visa.jti
            )
            continue
        wanted.setdefault(accession, []).append(visa)
    if not wanted:
        return frozenset(), None, ()
    held = dict(Dataset.objects.filter(accession__in=list(wanted)).values_list("accession", "dac__accession"))
    own_subjects = {visa.sub for group in wanted.values() for visa in group if visa.iss == own_iss}
    live = set()
    if own_subjects:
        live = set(
            Entitlement.objects.live()
            .filter(user__username__in=own_subjects, user__is_active=True, dataset__accession__in=list(held))
            .values_list("user__username", "dataset__accession")
        )
    issuers = trusted_issuers()
    granted, earliest, evidence = set(), None, []
    for accession, group in wanted.items():
        if accession not in held:
            ignore("dataset", "dataset %s is not held here", accession)
            continue
        for visa in group:
            if visa.iss == own_iss:
                if (visa.sub, accession) not in live:
                    ignore(
                        "entitlement",
                        "entitlement of %s to %s is no longer live (jti=%s)",
                        visa.sub,
                        accession,
                        visa.jti,
                    )
                    continue
            else:
                reason = _scope_refusal(visa, issuers.get(visa.iss), accession=accession, dac=held[accession])
                if reason is not None:
                    out_of_scope(visa, reason)
                    continue
            granted.add(accession)
            earliest = visa.exp if earliest is None else min(earliest, visa.exp)
            evidence.append(f"{visa.iss}#{visa.jti or ''}")
    return frozenset(granted), earliest, tuple(evidence)


def own_token_grants(user: User, *, jti: str | None, now: float) -> tuple[frozenset[str], int | None, tuple[str, ...]]:
    """A passport token this archive issued opens what its user's live entitlements open at
    request time, not what they opened when it was minted: an approval after the token was made
    counts at once, as does a revocation or an end date. The token's own expiry still bounds it."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    live = list(Entitlement.objects.live(at=moment).filter(user=user).values_list("dataset__accession", "end"))
    ends = [int(end.timestamp()) for _, end in live if end is not None]
    return frozenset(accession for accession, _ in live), (min(ends) if ends else None), _own_evidence(jti, bool(live))


def _own_evidence(jti: str | None, opens_any: bool) -> tuple[str, ...]:
    """What our own token's grants rest on: the token itself, when it opens anything."""
    return (f"{settings.BASE_URL.rstrip('/')}#{jti or ''}",) if opens_any else ()


def _expiry(*stamps) -> datetime | None:
    values = [s for s in stamps if s is not None]
    return datetime.fromtimestamp(min(values), tz=UTC) if values else None


def external_user(*, iss: str, sub: str) -> User:
    """The local user linked to (iss, sub), creating a passive one the first time."""
    link = ExternalIdentity.objects.select_related("user").filter(issuer=iss, subject=sub).first()
    if link is not None:
        return link.user
    username = "ext-" + hashlib.sha256(f"{iss}\n{sub}".encode()).hexdigest()[:20]
    try:
        with transaction.atomic():
            user, _ = User.objects.get_or_create(username=username, defaults={"is_active": True})
            if user.has_usable_password():
                user.set_unusable_password()
                user.save(update_fields=["password"])
            ExternalIdentity.objects.create(user=user, issuer=iss, subject=sub)
    except IntegrityError:  # a concurrent request linked it first
        return ExternalIdentity.objects.select_related("user").get(issuer=iss, subject=sub).user
    return user


def _own_passport_user(checked) -> User:
    saved = PassportToken.objects.select_related("user").filter(jti=checked.jti or "").first()
    if saved is None or saved.user.get_username() != checked.sub:
        raise Refused("passport token is not known to this archive")
    if saved.revoked_at is not None:
        raise Refused("passport token was revoked")
    if not saved.user.is_active:
        raise Refused("account is disabled")
    return saved.user


@dataclass(frozen=True)
class OwnTokenState:
    """What one request needs to know, live, about one of our own passport tokens."""

    user: User
    datasets: frozenset[str]  # opened by the user's live entitlements now
    earliest: int | None  # the earliest end among them
    evidence: tuple[str, ...]
    blocks: tuple[tuple, ...] | None = None  # every standing DAC block (None: not read here)
    linked: frozenset[tuple[str, str]] | None = None  # the user's ExternalIdentity (iss, sub)


_OWN_TOKEN_EXTRA = ("token_revoked_at", "live_datasets", "live_end", "standing_blocks", "linked_identities")


@functools.cache
def _own_token_sql() -> str:
    q = connection.ops.quote_name
    user_columns = model_columns(User, "u", q)
    live = (
        f"FROM {q(Entitlement._meta.db_table)} e WHERE e.user_id = u.id AND e.status = %s AND e.start <= %s "
        f'AND (e."end" IS NULL OR e."end" > %s)'
    )
    return (
        f"SELECT {user_columns}, t.revoked_at AS token_revoked_at, "
        f"ARRAY(SELECT d.accession {live.replace('WHERE', f'JOIN {q(Dataset._meta.db_table)} d ON d.id = e.dataset_id WHERE', 1)}) AS live_datasets, "
        f'(SELECT MIN(e."end") {live}) AS live_end, '
        f"ARRAY(SELECT json_build_array(b.dac_id, b.user_id, b.issuer, b.subject) FROM {q(DACBlock._meta.db_table)} b "
        f"WHERE b.lifted_at IS NULL) AS standing_blocks, "
        f"ARRAY(SELECT json_build_array(x.issuer, x.subject) FROM {q(ExternalIdentity._meta.db_table)} x "
        f"WHERE x.user_id = u.id) AS linked_identities "
        f"FROM {q(PassportToken._meta.db_table)} t JOIN {q(User._meta.db_table)} u ON u.id = t.user_id WHERE t.jti = %s"
    )


def own_token_state(checked, *, now: float) -> OwnTokenState:
    """Refuses a token we do not know, one revoked, or one of a disabled account; then what the
    user's live entitlements open now, the DAC blocks standing and the user's linked identities.
    On PostgreSQL all of it is one statement read at request time (four queries before); elsewhere
    (the SQLite demo) the same answers come from the ORM, the blocks and links later as needed."""
    if connection.vendor != "postgresql":
        user = _own_passport_user(checked)
        return OwnTokenState(user, *own_token_grants(user, jti=checked.jti, now=now))
    moment = datetime.fromtimestamp(now, tz=UTC)
    live = [Entitlement.Status.ACTIVE, moment, moment]
    rows = instances(User, _own_token_sql(), [*live, *live, checked.jti or ""], extra=_OWN_TOKEN_EXTRA)
    user = rows[0] if rows else None
    if user is None or user.get_username() != checked.sub:
        raise Refused("passport token is not known to this archive")
    if user.token_revoked_at is not None:
        raise Refused("passport token was revoked")
    if not user.is_active:
        raise Refused("account is disabled")
    datasets = frozenset(user.live_datasets)
    return OwnTokenState(
        user=user,
        datasets=datasets,
        earliest=int(user.live_end.timestamp()) if user.live_end is not None else None,
        evidence=_own_evidence(checked.jti, bool(datasets)),
        blocks=tuple(tuple(block) for block in user.standing_blocks),
        linked=frozenset((iss, sub) for iss, sub in user.linked_identities),
    )


def _user_for(iss: str, sub: str, *, own: bool) -> User:
    if own:
        user = User.objects.filter(username=sub, is_active=True).first()
        if user is None:
            raise Refused("unknown or disabled account")
        return user
    user = external_user(iss=iss, sub=sub)
    if not user.is_active:
        raise Refused("account is disabled")
    return user


def _own_person(state: OwnTokenState, checked):
    """access.selectors.person() of a token that speaks for its own user only, from what
    `own_token_state` read (the same answer, no query); None when it links anyone else."""
    from gdi_archive.access.selectors import Person, identity_key

    own = settings.BASE_URL.rstrip("/")
    speaks_for = set(checked.identities) | {(checked.iss, checked.sub)}
    if state.linked is None or any(
        (iss or "").rstrip("/") != own or sub != state.user.username for iss, sub in speaks_for
    ):
        return None
    pk = frozenset({state.user.pk})
    return Person(users=pk, keys=frozenset(identity_key(i, s) for i, s in state.linked), entitled=pk)


def _userinfo(parsed: Parsed | None, token: str, *, now: float) -> tuple[str, UserInfo, int | None, str, object]:
    """(broker iss, userinfo, token exp, cache key, raw document) for a broker access token, cached by token hash."""
    if parsed is not None:
        broker = issuer_for(parsed.payload.get("iss"))
        if broker is None or broker.own or not broker.userinfo:
            raise Refused("access token from an issuer that is not a trusted broker")
        claims = check_access_token(parsed, broker, now=now)
        token_exp = claims.exp
    else:
        brokers = [i for i in trusted_issuers().values() if i.userinfo and not i.own]
        if len(brokers) != 1:
            # An opaque token does not say whose it is; never hand it to a broker that did not issue it.
            raise Refused("opaque token, and not exactly one trusted broker to ask")
        broker, token_exp, claims = brokers[0], None, None
    cache_key = "passports:userinfo:" + token_hash(token)
    cached = cache.get(cache_key)
    if cached is None:
        try:
            status, document = fetch_json(
                broker.userinfo, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
            )
        except Untrusted as exc:
            raise Refused(f"userinfo: {exc}") from None
        except Exception as exc:  # network errors
            raise Refused(f"userinfo unreachable ({exc.__class__.__name__})") from None
        if status != 200:
            raise Refused(f"userinfo answered {status}")
        cached = document
    try:
        info = UserInfo.model_validate(cached)
    except ValidationError:
        raise Refused("userinfo answer is not a valid document") from None
    if claims is not None and info.sub != claims.sub:
        raise Refused("userinfo subject differs from the access token's")
    return broker.iss, info, token_exp, cache_key, cached


def authenticate_token(token: str, *, now: float | None = None) -> tuple[User, Grants]:
    """Raises Refused with the reason for anything that must be answered with 401."""
    now = time.time() if now is None else now
    if len(token) > MAX_TOKEN_LENGTH:
        raise Refused("token is too large")
    audiences = {settings.BASE_URL.rstrip("/"), settings.OIDC_CLIENT_ID}
    # A token this process verified as a passport a moment ago needs no parsing to say so again.
    checked, parsed = already_verified(token, audiences=audiences, now=now), None
    if checked is None:
        parsed = parse(token) if "." in token else None
        if parsed is not None and (parsed.header.typ == PASSPORT_TYP or "ga4gh_passport_v1" in parsed.payload):
            checked = verified_passport(token, audiences=audiences, now=now)
    if checked is not None:
        if checked.own:
            state = own_token_state(checked, now=now)
            who = _own_person(state, checked)
            return state.user, Grants(
                subject=checked.sub,
                issuer=checked.iss,
                datasets=state.datasets,
                expires_at=_expiry(checked.exp, state.earliest),
                evidence=state.evidence,
                identities=checked.identities,
                standing_blocks=state.blocks,
                person=who,
                entitled_live=state.datasets if who is not None else None,
            )
        user = _user_for(checked.iss, checked.sub, own=False)
        datasets, earliest, evidence = grants_from_visas(checked.visas, now=now)
        grants = Grants(
            subject=checked.sub,
            issuer=checked.iss,
            datasets=datasets,
            expires_at=_expiry(checked.exp, earliest),
            evidence=evidence,
            identities=checked.identities,
        )
        return user, grants
    iss, info, token_exp, cache_key, document = _userinfo(parsed, token, now=now)
    visas, _ = check_visas(info.ga4gh_passport_v1, now=now)
    visas, identities = resolve_identity(sub=info.sub, iss=iss, visas=visas)
    datasets, earliest, evidence = grants_from_visas(visas, now=now)
    visa_exps = [v.exp for v in visas]
    until = min([s for s in [token_exp, *visa_exps] if s is not None] or [now + USERINFO_CACHE_MAX])
    cache.set(
        cache_key, document, timeout=max(1, min(int(until - now), USERINFO_CACHE_MAX if token_exp is None else 3600))
    )
    user = _user_for(iss, info.sub, own=False)
    return user, Grants(
        subject=info.sub,
        issuer=iss,
        datasets=datasets,
        expires_at=_expiry(token_exp, earliest),
        evidence=evidence,
        identities=identities,
    )
