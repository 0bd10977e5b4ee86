"""Fetch and authorise in one call (missing and not-yours give the same NotFound), and the
committee's rules read once: the quorum and who may decide.
"""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from gdi_archive.accounts.models import ExternalIdentity
from gdi_archive.accounts.permissions import is_dac_member
from gdi_archive.catalogue.models import DAC, Dataset
from gdi_archive.common.errors import NotFound

from .models import AccessRequest, Attachment, DACBlock, Decision, Entitlement


def approvals_required(dac) -> int:
    """The quorum: how many members must approve (at least one)."""
    return max(1, dac.required_approvals)


def current_approvals(req: AccessRequest):
    """The approvals of the current submission round (earlier rounds no longer count)."""
    return Decision.objects.filter(access_request=req, round=req.round, verdict=Decision.Verdict.APPROVE)


def approval_tally(req: AccessRequest) -> tuple[int, int]:
    """(approvals given this round, approvals required)."""
    return (current_approvals(req).count() if req.round else 0), approvals_required(req.dac)


def may_decide(user, req: AccessRequest) -> bool:
    """A member of the request's DAC who is not its applicant, while it is submitted."""
    return req.status == AccessRequest.Status.SUBMITTED and req.applicant_id != user.pk and is_dac_member(user, req.dac)


def get_request_for(*, user, pk) -> AccessRequest:
    try:
        return AccessRequest.objects.visible_to(user).select_related("dac", "applicant").get(pk=int(pk))
    except (AccessRequest.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("There is no such access request.")) from None


def get_entitlement_for(*, user, pk) -> Entitlement:
    try:
        return Entitlement.objects.visible_to(user).select_related("dataset__dac", "user").get(pk=int(pk))
    except (Entitlement.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("There is no such entitlement.")) from None


def get_attachment_for(*, user, request_pk, pk) -> Attachment:
    req = get_request_for(user=user, pk=request_pk)
    joined = req.members.filter(user=user, status="accepted").exists()
    if not (req.applicant_id == user.pk or joined or is_dac_member(user, req.dac) or user.is_superuser):
        raise NotFound(_("There is no such attachment."))
    try:
        return req.attachments.get(pk=int(pk))
    except (Attachment.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("There is no such attachment.")) from None


def dac_inbox(user) -> dict:
    """A DAC member's requests in three tabs: to decide (submitted, no verdict of theirs this round),
    waiting for other members (they approved, the quorum is not reached), decided (the rest)."""
    from .models import Decision

    reqs = (
        AccessRequest.objects.filter(dac__members=user)
        .exclude(status=AccessRequest.Status.DRAFT)
        .select_related("dac", "applicant")
        .prefetch_related("datasets")
        .distinct()
        .order_by("submitted_at", "id")
    )
    mine = set(Decision.objects.filter(member=user, access_request__in=reqs).values_list("access_request_id", "round"))
    tabs = {"decide": [], "waiting": [], "decided": []}
    for req in reqs:
        if req.status != AccessRequest.Status.SUBMITTED:
            tabs["decided"].append(req)
        elif (req.pk, req.round) in mine:
            tabs["waiting"].append(req)
        else:
            tabs["decide"].append(req)
    tabs["decided"].sort(key=lambda r: r.decided_at or r.updated_at, reverse=True)
    return tabs


def identity_key(iss: str, sub: str) -> str:
    """A short, stable name for an external identity (iss, sub), as links and exports keep it."""
    return hashlib.sha256(f"{iss.rstrip('/')}\n{sub}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Person:
    """Everyone a request, a link or an export speaks for: local users (by pk) and external
    identities (by `identity_key`). `entitled` are the local users whose entitlements may count
    for it: the request's own user and the users its token was tied to by this archive's or a
    link_identities issuer's links, never one reached only through ExternalIdentity rows."""

    users: frozenset[int] = frozenset()
    keys: frozenset[str] = frozenset()
    entitled: frozenset[int] = frozenset()


def person(*, user=None, identities=(), users=(), keys=()) -> Person:
    """Close a person over the links we hold: identities of this archive are its users;
    an external identity linked to a local user (ExternalIdentity) brings that user, and every
    local user brings the external identities linked to them. So blocking a local user blocks
    their linked external identities, and blocking an (iss, sub) blocks the user it is linked to.
    `users` are entitled users (as `Person.entitled` stored them), `keys` identity keys."""
    own = settings.BASE_URL.rstrip("/")
    entitled = {int(u) for u in users if u}
    if getattr(user, "pk", None):
        entitled.add(user.pk)
    names, pairs = set(), set()
    for iss, sub in identities:
        iss = (iss or "").rstrip("/")
        if not iss or not sub:
            continue
        if iss == own:
            names.add(sub)
        else:
            pairs.add((iss, sub))
    names.discard(getattr(user, "username", None))  # the request's own user, already in
    if names:
        entitled |= set(get_user_model().objects.filter(username__in=names).values_list("pk", flat=True))
    user_ids = set(entitled)
    if pairs:
        rows = ExternalIdentity.objects.filter(subject__in={sub for _, sub in pairs}).values_list(
            "issuer", "subject", "user_id"
        )
        user_ids |= {uid for iss, sub, uid in rows if (iss, sub) in pairs}
    linked = ExternalIdentity.objects.filter(user_id__in=user_ids).values_list("issuer", "subject") if user_ids else []
    found = {identity_key(iss, sub) for iss, sub in (*pairs, *linked)}
    return Person(
        users=frozenset(user_ids), keys=frozenset(found | {k for k in keys if k}), entitled=frozenset(entitled)
    )


def standing_blocks() -> list[tuple]:
    """Every block not lifted, as (dac_id, user_id, issuer, subject): usually none, so a request
    can skip working out who it speaks for."""
    return list(DACBlock.objects.filter(lifted_at__isnull=True).values_list("dac_id", "user_id", "issuer", "subject"))


def blocked_for(who: Person, standing: list[tuple] | None = None) -> frozenset[str]:
    """Accessions of the datasets whose DAC blocks any of `who` now (empty when none). A block of
    a local user also matches any external identity linked to that user."""
    if not who.users and not who.keys:
        return frozenset()
    if standing is None:
        standing = standing_blocks()
    blocked_users = {user_id for _, user_id, _, _ in standing if user_id is not None}
    linked = {}
    if who.keys and blocked_users - who.users:
        for user_id, iss, sub in ExternalIdentity.objects.filter(user_id__in=blocked_users - who.users).values_list(
            "user_id", "issuer", "subject"
        ):
            linked.setdefault(user_id, set()).add(identity_key(iss, sub))
    dacs = {
        dac_id
        for dac_id, user_id, iss, sub in standing
        if (user_id is not None and (user_id in who.users or linked.get(user_id, set()) & who.keys))
        or (iss and identity_key(iss, sub) in who.keys)
    }
    if not dacs:
        return frozenset()
    return frozenset(Dataset.objects.filter(dac_id__in=dacs).values_list("accession", flat=True))


def blocked_datasets(*, user=None, iss: str = "", sub: str = "", identities=()) -> frozenset[str]:
    """Accessions of the datasets whose DAC blocks this person now: the local user, the
    (iss, sub) the request came with, any identity linked to them (empty when none)."""
    identities = set(identities)
    if iss and sub:
        identities.add((iss, sub))
    if not getattr(user, "pk", None) and not identities:
        return frozenset()
    return blocked_for(person(user=user, identities=identities))


def blocks_of(dac):
    """A DAC's standing blocks, newest first."""
    return DACBlock.objects.filter(dac=dac, lifted_at__isnull=True).select_related("user", "created_by")


def get_dac(accession: str):
    """The DAC by accession (who may act on its blocks is the service's question)."""
    dac = DAC.objects.filter(accession=accession).first()
    if dac is None:
        raise NotFound(_("There is no DAC %(accession)s.") % {"accession": accession})
    return dac


def get_block(*, dac, pk) -> DACBlock:
    try:
        return DACBlock.objects.select_related("dac", "user").get(dac=dac, pk=int(pk), lifted_at__isnull=True)
    except (DACBlock.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("There is no such block.")) from None
