"""What a request may read: the contract between the clearinghouse and everything that serves data.

Every API view that serves or lists controlled data calls `granted_datasets(request)` and
nothing else to decide; the passports app owns how the answer is reached (our passport tokens,
visas from trusted brokers, or a signed-in user's live entitlements).
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Grants:
    """The outcome of checking a token: who it is about and which datasets it opens now."""

    subject: str
    issuer: str
    datasets: frozenset[str] = field(default_factory=frozenset)  # dataset accessions
    expires_at: datetime | None = None
    # The visas the grants rest on, as "iss#jti" (for the audit trail of a download).
    evidence: tuple[str, ...] = ()
    # Everyone the token speaks for, as (iss, sub): its subject and the identities linked to it
    # (a local user as (BASE_URL, username)). A DAC block of any of them stops the token.
    identities: frozenset[tuple[str, str]] = frozenset()
    # Read with the token's own live checks, in this request (None: not read, ask when needed):
    # every standing DAC block as (dac_id, user_id, issuer, subject), and who the request speaks
    # for (access.selectors.Person) when that needed no more than the token's own user.
    standing_blocks: tuple[tuple, ...] | None = None
    person: object | None = None
    # With `person`: the datasets its entitled users' live entitlements open (read in this request).
    entitled_live: frozenset[str] | None = None


def granted_datasets(request) -> frozenset[str]:
    """Accessions of the datasets this request may read right now (empty when none)."""
    granted = _granted(request)
    return granted - _blocked(request) if granted else granted


def _granted(request) -> frozenset[str]:
    grants = getattr(request, "auth", None)
    if isinstance(grants, Grants):
        return grants.datasets
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        from gdi_archive.passports.services import live_dataset_accessions

        return live_dataset_accessions(user) | _session_visa_grants(request)
    return frozenset()


def _blocked(request) -> frozenset[str]:
    """A DAC block overrides every grant for that DAC's datasets, ours and brokers' alike."""
    from gdi_archive.access.selectors import blocked_for, standing_blocks

    def blocked() -> frozenset[str]:
        grants = getattr(request, "auth", None)
        read = grants.standing_blocks if isinstance(grants, Grants) else None
        standing = list(read) if read is not None else standing_blocks()
        return blocked_for(request_person(request), standing) if standing else frozenset()

    return once_per_request(request, "blocked", blocked)


def request_person(request):
    """Everyone the request speaks for (access.selectors.Person): its user, the identities its
    token links, and those linked to them here; worked out once per request."""
    from gdi_archive.access.selectors import person

    def compute():
        grants = getattr(request, "auth", None)
        known = grants.person if isinstance(grants, Grants) else None
        return (
            known if known is not None else person(user=request_user(request), identities=request_identities(request))
        )

    return once_per_request(request, "person", compute)


def once_per_request(request, name: str, compute):
    """The same answer for every caller while one request lasts (the DRF request and the Django
    request it wraps share it); the next request works it out again, so nothing goes stale."""
    base = getattr(request, "_request", request)
    memo = base.__dict__.setdefault("_gdi_once", {})
    if name not in memo:
        memo[name] = compute()
    return memo[name]


def request_user(request):
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def request_identities(request) -> frozenset[tuple[str, str]]:
    """(iss, sub) of everyone this request speaks for: the token's subject and its linked
    identities, or those the identity provider's visas named at sign-in."""
    grants = getattr(request, "auth", None)
    if isinstance(grants, Grants):
        return frozenset(grants.identities) | {(grants.issuer, grants.subject)}
    session = getattr(request, "session", None)
    held = session.get("passport_grants") if session is not None else None
    found = held.get("identities") if isinstance(held, dict) else None
    if not isinstance(found, list):
        return frozenset()
    return frozenset(
        (pair[0], pair[1])
        for pair in found
        if isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
    )


def _session_visa_grants(request) -> frozenset[str]:
    """Datasets granted by visas from the identity provider at sign-in, until they expire."""
    import time

    session = getattr(request, "session", None)
    grants = session.get("passport_grants") if session is not None else None
    if not isinstance(grants, dict) or not isinstance(grants.get("expires"), int) or grants["expires"] <= time.time():
        return frozenset()
    return frozenset(d for d in grants.get("datasets", []) if isinstance(d, str))
