"""Checking passports and visas by the checklist in standards.md A.14.

Two outcomes for a visa. A visa that fails a check (algorithm, signature, key, jku, expiry,
identity, shape) makes the whole token unusable: `Refused`, and the client gets 401 (A.13 rule
3, "reject any request that includes a Passport failing the checks"). A visa that is sound but
that we have no reason to rely on (issuer not trusted, unsupported type, conditions we do not
evaluate) is ignored and logged. Nothing here looks at the database, and nothing reads
settings: the caller hands in what is needed (the audiences we answer to); the trusted
issuers and their scope come from `trust`.

Time defects refuse the token: expired, issued or asserted in the future, `nbf` in the future,
or a visa living longer (exp - iat) than its issuer's `max_visa_lifetime`. An issuer's
LinkedIdentities may tie its subject to one of this archive's own users only when the issuer
has `link_identities`; otherwise the link is ignored, and an archive-signed visa that only that
link would have tied to the passport's subject counts for nobody (it is dropped, logged).
"""

import json
import logging
import re
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

from joserfc import jws
from pydantic import ValidationError

from .claims import (
    PASSPORT_TYP,
    STANDARD_TYPES,
    VISA_TYPS,
    AccessTokenClaims,
    JoseHeader,
    PassportClaims,
    VisaClaims,
)
from .trust import TrustedIssuer, Untrusted, check_jku, issuer_for, verification_key

try:  # counters for /metrics; the checks work the same without them
    from gdi_archive.operations import metrics
except ImportError:  # pragma: no cover
    metrics = None

log = logging.getLogger("gdi_archive.passports.clearinghouse")

# A passport with a few dozen RS256 visas fits; anything bigger is refused before parsing.
MAX_TOKEN_LENGTH = 32 * 1024
LEEWAY = 30  # seconds of clock skew allowed on exp / iat / asserted
# One person has a few identities; links and exports name each one, so a passport linking more is refused.
MAX_LINKED_IDENTITIES = 64
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


class Refused(Exception):
    """The token must not be used; the message is the reason (safe to log, never the token)."""


@dataclass(frozen=True)
class Visa:
    iss: str
    sub: str
    jti: str | None
    exp: int
    type: str
    value: str
    source: str
    by: str | None
    asserted: int


@dataclass
class CheckedPassport:
    iss: str
    sub: str
    exp: int
    jti: str | None
    own: bool
    visas: list[Visa] = field(default_factory=list)
    ignored: int = 0
    identities: frozenset[tuple[str, str]] = frozenset()  # (iss, sub) the passport speaks for


@dataclass(frozen=True)
class Parsed:
    header: JoseHeader
    payload: dict
    obj: object  # joserfc CompactSignature


def parse(token: str) -> Parsed:
    """Split a compact JWS and read its header and payload, unverified."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise Refused("token is too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise Refused("not a compact JWS (unsigned, encrypted or garbage)")
    if not all(_B64URL.match(part) for part in parts):
        raise Refused("malformed base64url in token")
    try:
        obj = jws.extract_compact(token.encode("ascii"))
        header = JoseHeader.model_validate(obj.headers())
        payload = json.loads(obj.payload)
    except (ValidationError, ValueError, TypeError, Exception) as exc:  # joserfc raises its own errors
        raise Refused(f"unreadable token header or payload ({_reason(exc)})") from None
    if not isinstance(payload, dict):
        raise Refused("token payload is not a JSON object")
    return Parsed(header=header, payload=payload, obj=obj)


def failure_label(message: str) -> str:
    """A short, fixed label for a refusal (metrics must not get one series per message)."""
    for word, label in (
        ("signature", "signature"),
        ("expired", "expired"),
        ("future", "time"),
        ("lifetime", "time"),
        ("kid", "key"),
        ("jku", "key"),
        ("JWKS", "key"),
        ("not trusted", "issuer"),
        ("not linked", "identity"),
        ("claims", "claims"),
        ("algorithm", "algorithm"),
    ):
        if word in message:
            return label
    return "malformed"


def _count(result: str, reason: str | None = None) -> None:
    if metrics is not None:
        metrics.VISA_VALIDATIONS.labels(result=result).inc()
        if reason:
            metrics.VISA_FAILURES.labels(reason=reason).inc()


def ignore(reason: str, message: str, *args, level: int = logging.INFO) -> None:
    """A sound visa we do not rely on: log why, count it, and go on without it."""
    log.log(level, "visa ignored: " + message, *args)
    _count("ignored", reason)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"[:200]
    return exc.__class__.__name__


def verify_signature(parsed: Parsed, issuer: TrustedIssuer) -> None:
    """jku first (before any fetch), then the key by kid, then the signature with the key's own alg."""
    try:
        check_jku(issuer, parsed.header.jku)
        key, alg = verification_key(issuer, parsed.header.kid)
    except Untrusted as exc:
        raise Refused(str(exc)) from None
    if parsed.header.alg != alg:
        raise Refused(f"algorithm {parsed.header.alg} does not match the key ({alg})")
    try:
        ok = jws.validate_compact(parsed.obj, key, algorithms=[alg])
    except Exception:
        ok = False
    if not ok:
        raise Refused("bad signature")


def check_times(*, iat: int, exp: int, now: float, what: str, nbf: int | None = None) -> None:
    if exp <= now - LEEWAY:
        raise Refused(f"{what} has expired")
    if iat > now + LEEWAY:
        raise Refused(f"{what} is issued in the future")
    if nbf is not None and nbf > now + LEEWAY:
        raise Refused(f"{what} is not valid before a time in the future (nbf)")


def check_lifetime(issuer: TrustedIssuer, *, iat: int, exp: int) -> None:
    """Every visa of an issuer lives at most its `max_visa_lifetime` (exp - iat)."""
    if issuer.max_visa_lifetime is not None and exp - iat > issuer.max_visa_lifetime:
        raise Refused(
            f"visa lifetime {exp - iat}s exceeds the maximum of {issuer.max_visa_lifetime}s for issuer {issuer.iss!r}"
        )


def check_visa(token: str, *, now: float) -> Visa | None:
    """A verified visa, or None when it is sound but not ours to rely on (logged)."""
    parsed = parse(token)
    header = parsed.header
    if header.typ is not None and header.typ not in VISA_TYPS:
        raise Refused(f"visa typ {header.typ[:40]!r} is not a visa type")
    scope_words = str(parsed.payload.get("scope") or "").split()
    if header.jku is None:
        # Visa Access Tokens (deprecated) need access-token polling, which we do not do.
        if "openid" in scope_words:
            ignore("access_token", "visa access tokens are not supported (iss=%s)", str(parsed.payload.get("iss"))[:80])
            return None
        raise Refused("visa has neither jku nor an openid scope")
    if "openid" in scope_words:
        raise Refused("visa document token with openid in its scope")
    issuer = issuer_for(parsed.payload.get("iss"))
    if issuer is None:
        ignore("issuer", "issuer %r is not trusted", str(parsed.payload.get("iss"))[:80])
        return None
    verify_signature(parsed, issuer)
    try:
        claims = VisaClaims.model_validate(parsed.payload)
    except ValidationError as exc:
        raise Refused(f"visa claims: {_reason(exc)}") from None
    check_times(iat=claims.iat, exp=claims.exp, nbf=claims.nbf, now=now, what="visa")
    check_lifetime(issuer, iat=claims.iat, exp=claims.exp)
    visa = claims.ga4gh_visa_v1
    if visa.asserted > now + LEEWAY:
        raise Refused("visa asserted in the future")
    if visa.conditions:
        ignore("conditions", "conditions are not evaluated (iss=%s jti=%s)", claims.iss, claims.jti)
        return None
    if visa.type not in STANDARD_TYPES:
        ignore("type", "unsupported type %r (iss=%s jti=%s)", visa.type[:80], claims.iss, claims.jti)
        return None
    return Visa(
        iss=issuer.iss,
        sub=claims.sub,
        jti=claims.jti,
        exp=claims.exp,
        type=visa.type,
        value=visa.value,
        source=visa.source,
        by=visa.by,
        asserted=visa.asserted,
    )


def _may_link(visa: Visa, other_iss: str) -> bool:
    """A link into this archive's own users only from this archive or an issuer with link_identities."""
    target = issuer_for(other_iss)
    if target is None or not target.own:
        return True
    return _vouches(visa.iss)


def _vouches(iss: str) -> bool:
    """May this issuer's links carry a passport to one of this archive's own users?"""
    source = issuer_for(iss)
    return source is not None and (source.own or source.link_identities)


def _is_own(iss: str) -> bool:
    issuer = issuer_for(iss)
    return issuer is not None and issuer.own


def linked_identities(
    visas: list[Visa], refused: set[tuple[str, str]] | None = None, *, vouched_only: bool = False
) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """Edges {(sub, iss)} from LinkedIdentities visas (values percent-decoded, A.15). Links into
    this archive's users from an issuer without link_identities are left out (and added to
    `refused`). With `vouched_only`, only the links of this archive and of issuers with
    link_identities."""
    edges: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for visa in visas:
        if visa.type != "LinkedIdentities" or (vouched_only and not _vouches(visa.iss)):
            continue
        me = (visa.sub, visa.iss)
        for item in visa.value.split(";"):
            sub, sep, iss = item.partition(",")
            if not sep or not sub or not iss:
                continue
            other = (unquote(sub), unquote(iss).rstrip("/"))
            if not _may_link(visa, other[1]):
                ignore(
                    "link",
                    "LinkedIdentities into this archive's user %r ignored: issuer %s may not link to local users "
                    "(link_identities is false; jti=%s)",
                    other[0][:60],
                    visa.iss,
                    visa.jti,
                )
                if refused is not None:
                    refused.add(other)
                continue
            edges.setdefault(me, set()).add(other)
            edges.setdefault(other, set()).add(me)
    return edges


def _reach(start: tuple[str, str], edges: dict, avoid=frozenset()) -> set[tuple[str, str]]:
    reached = {start}
    frontier = [start]
    while frontier:
        for other in edges.get(frontier.pop(), ()):
            if other not in reached and other not in avoid:
                reached.add(other)
                frontier.append(other)
    return reached


def resolve_identity(*, sub: str, iss: str, visas: list[Visa]) -> tuple[list[Visa], frozenset[tuple[str, str]]]:
    """Every visa relied on must be the passport's subject or linked to it (A.13 rule 10).

    The visas to rely on come back, with the identities, as (iss, sub), that the passport speaks
    for (its subject and those linked to it; a DAC block of any of them stops it). A local user
    of this archive is reached only along links made by this archive or by issuers with
    link_identities, every step of the way: a broker without it cannot reach one through another
    broker's link either. An archive-signed visa for a user not reached that way is dropped (it
    counts only for the local user it names; logged), and the token still works for the rest.
    Any other unlinked visa refuses the token.
    """
    refused: set[tuple[str, str]] = set()
    start = (sub, iss.rstrip("/"))
    edges = linked_identities(visas, refused)
    vouched = _reach(start, linked_identities(visas, vouched_only=True))
    unvouched = {node for node in _reach(start, edges) if _is_own(node[1]) and node not in vouched}
    refused |= unvouched
    reached = _reach(start, edges, avoid=unvouched)  # nor through such a user to anyone beyond
    if len(reached) > MAX_LINKED_IDENTITIES:
        raise Refused(f"the passport links more than {MAX_LINKED_IDENTITIES} identities")
    kept = []
    for visa in visas:
        if (visa.sub, visa.iss) in reached:
            kept.append(visa)
        elif (visa.sub, visa.iss) in refused:
            ignore(
                "link",
                "this archive's visa for %r does not count for subject %r at %s (jti=%s)",
                visa.sub[:60],
                sub[:60],
                iss,
                visa.jti,
            )
        else:
            raise Refused(f"visa subject {visa.sub[:60]!r} at {visa.iss!r} is not linked to the passport's subject")
    return kept, frozenset((node_iss, node_sub) for node_sub, node_iss in reached)


def check_passport(token: str, *, audiences: set[str], now: float | None = None) -> CheckedPassport:
    """The outer passport JWT and then every visa in it; `aud`, when present, must name one of
    `audiences` (this archive's base URL and OIDC client id, handed in by the caller)."""
    now = time.time() if now is None else now
    parsed = parse(token)
    if parsed.header.typ != PASSPORT_TYP:
        raise Refused("not a passport (typ)")
    issuer = issuer_for(parsed.payload.get("iss"))
    if issuer is None:
        raise Refused(f"passport issuer {str(parsed.payload.get('iss'))[:80]!r} is not trusted")
    verify_signature(parsed, issuer)
    try:
        claims = PassportClaims.model_validate(parsed.payload)
    except ValidationError as exc:
        raise Refused(f"passport claims: {_reason(exc)}") from None
    check_times(iat=claims.iat, exp=claims.exp, nbf=claims.nbf, now=now, what="passport")
    if claims.aud is not None:
        named = {claims.aud} if isinstance(claims.aud, str) else set(claims.aud)
        if not named & {a for a in audiences if a}:
            raise Refused("passport is meant for another audience")
    result = CheckedPassport(iss=issuer.iss, sub=claims.sub, exp=claims.exp, jti=claims.jti, own=issuer.own)
    result.visas, result.ignored = check_visas(claims.ga4gh_passport_v1, now=now)
    result.visas, result.identities = resolve_identity(sub=claims.sub, iss=issuer.iss, visas=result.visas)
    return result


def check_visas(tokens: list[str], *, now: float) -> tuple[list[Visa], int]:
    visas, ignored = [], 0
    for visa_token in tokens:
        try:
            visa = check_visa(visa_token, now=now)
        except Refused as exc:
            _count("invalid", failure_label(str(exc)))
            raise
        if visa is None:
            ignored += 1
        else:
            _count("valid")
            visas.append(visa)
    return visas, ignored


def check_access_token(parsed: Parsed, issuer: TrustedIssuer, *, now: float) -> AccessTokenClaims:
    """A broker's JWT access token: checked like any JWT before we send it to its userinfo."""
    if parsed.header.typ not in (None, "JWT", "at+jwt"):
        raise Refused("not an access token (typ)")
    verify_signature(parsed, issuer)
    try:
        claims = AccessTokenClaims.model_validate(parsed.payload)
    except ValidationError as exc:
        raise Refused(f"access token claims: {_reason(exc)}") from None
    check_times(iat=claims.iat, exp=claims.exp, nbf=claims.nbf, now=now, what="access token")
    if "ga4gh_passport_v1" in parsed.payload or "ga4gh_visa_v1" in parsed.payload:
        raise Refused("access tokens must not carry visas")
    return claims
