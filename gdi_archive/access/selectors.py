"""Fetch and authorise in one call (missing and not-yours give the same NotFound), and the
committee's rules read once: the quorum and who may decide.
"""

from django.db.models import Exists, OuterRef, Q
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


def blocking_filter(*, user=None, iss: str = "", sub: str = ""):
    """The standing blocks that apply to this person: a block of the local user, of any external
    identity linked to them, or of the (iss, sub) the request came with. None when nobody."""
    who = Q(pk__in=[])
    user_id = getattr(user, "pk", None) if user is not None else None
    if user_id:
        linked = ExternalIdentity.objects.filter(
            user_id=user_id, issuer=OuterRef("issuer"), subject=OuterRef("subject")
        )
        who |= Q(user_id=user_id) | Q(Exists(linked))
    if iss and sub:
        who |= Q(issuer=iss.rstrip("/"), subject=sub)
    return DACBlock.objects.filter(who, lifted_at__isnull=True)


def blocked_datasets(*, user=None, iss: str = "", sub: str = "") -> frozenset[str]:
    """Accessions of the datasets whose DAC blocks this person now (empty when none)."""
    if not getattr(user, "pk", None) and not (iss and sub):
        return frozenset()
    dacs = blocking_filter(user=user, iss=iss, sub=sub).values("dac_id")
    return frozenset(Dataset.objects.filter(dac_id__in=dacs).values_list("accession", flat=True))


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
