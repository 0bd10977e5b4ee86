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
    from gdi_archive.access.selectors import blocked_datasets

    user = getattr(request, "user", None)
    grants = getattr(request, "auth", None)
    return blocked_datasets(
        user=user if getattr(user, "is_authenticated", False) else None,
        iss=getattr(grants, "issuer", "") if isinstance(grants, Grants) else "",
        sub=getattr(grants, "subject", "") if isinstance(grants, Grants) else "",
    )


def _session_visa_grants(request) -> frozenset[str]:
    """Datasets granted by visas from the identity provider at sign-in, until they expire."""
    import time

    session = getattr(request, "session", None)
    grants = session.get("passport_grants") if session is not None else None
    if not isinstance(grants, dict) or not isinstance(grants.get("expires"), int) or grants["expires"] <= time.time():
        return frozenset()
    return frozenset(d for d in grants.get("datasets", []) if isinstance(d, str))
