"""Co-applicants: invited by email (the token reaches that address only), joining, removed."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict, Forbidden, InvalidInput, NotFound

from .. import notifications
from ..models import AccessRequest, RequestEvent, RequestMember
from .applications import accept_dataset_terms
from .shared import clean_text, locked, timeline_event


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invite_member(*, access_request: AccessRequest, applicant, email: str, request=None) -> RequestMember:
    """Invite a co-applicant by email; the link with the token goes to that address only."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    req = locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can invite co-applicants."))
    if not req.is_editable:
        raise Conflict(_("Co-applicants can be invited only while the request is a draft or returned."))
    email = clean_text(email, _("The email address"), required=True, max_length=254).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(_("%(email)s is not an email address.") % {"email": email}) from None
    if email == (req.applicant.email or "").lower():
        raise InvalidInput(_("You are the applicant already; invite someone else."))
    if req.members.exclude(status=RequestMember.Status.REMOVED).filter(email__iexact=email).exists():
        raise Conflict(_("%(email)s is already invited to this request.") % {"email": email})
    token = secrets.token_urlsafe(32)
    member = RequestMember.objects.create(
        access_request=req, email=email, token_sha256=_token_hash(token), invited_by=applicant
    )
    timeline_event(req, RequestEvent.Kind.MEMBER_INVITED, applicant, email)
    record(
        action="access.request.member_invited", actor=applicant, target=req, request=request, details={"email": email}
    )
    notifications.on_commit_invited(member, token)
    return member


def invitation_for(token: str) -> RequestMember:
    """The open invitation this token belongs to, or NotFound (a used or removed one too)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise NotFound(_("This invitation is not valid (it may have been used or withdrawn)."))
    member = (
        RequestMember.objects.select_related("access_request__dac", "access_request__applicant")
        .filter(token_sha256=_token_hash(token), status=RequestMember.Status.INVITED)
        .first()
    )
    if member is None:
        raise NotFound(_("This invitation is not valid (it may have been used or withdrawn)."))
    return member


@transaction.atomic
def accept_invitation(*, token: str, user, accept_terms: bool, request=None) -> RequestMember:
    """The signed-in invitee joins the request and accepts every dataset's current terms."""
    found = invitation_for(token)
    member = RequestMember.objects.select_for_update().get(pk=found.pk)
    req = locked(member.access_request)
    if member.status != RequestMember.Status.INVITED:
        raise NotFound(_("This invitation is not valid (it may have been used or withdrawn)."))
    if not req.is_open:
        raise Conflict(
            _("This request is %(status)s; it takes no more co-applicants.") % {"status": req.get_status_display()}
        )
    if req.applicant_id == user.pk:
        raise Conflict(_("You are the applicant of this request."))
    if req.members.filter(user=user, status=RequestMember.Status.ACCEPTED).exists():
        raise Conflict(_("You are a member of this request already."))
    if accept_terms is not True:
        raise InvalidInput(_("You must accept the terms of use of every dataset you ask for."))
    accept_dataset_terms(user=user, datasets=list(req.datasets.all()), request=request)
    member.user, member.status, member.accepted_at = user, RequestMember.Status.ACCEPTED, timezone.now()
    member.save()
    timeline_event(req, RequestEvent.Kind.MEMBER_JOINED, user, member.email)
    record(
        action="access.request.member_joined",
        actor=user,
        target=req,
        request=request,
        details={
            "email": member.email,
            "username": user.get_username(),
            "terms_versions": {d.accession: d.terms_version for d in req.datasets.all()},
        },
    )
    notifications.on_commit_member_joined(member)
    return member


@transaction.atomic
def remove_member(*, access_request: AccessRequest, applicant, who: str, request=None) -> RequestMember:
    """The applicant removes a co-applicant (by username, or by email while still invited)."""
    req = locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can remove co-applicants."))
    if not req.is_open:
        raise Conflict(_("A %(status)s request cannot be changed.") % {"status": req.get_status_display()})
    active = req.members.exclude(status=RequestMember.Status.REMOVED).select_related("user")
    member = active.filter(user__username=who).first() or active.filter(email__iexact=who or "").first()
    if member is None:
        raise NotFound(_("%(who)s is not a member of this request.") % {"who": who})
    member.status, member.removed_at = RequestMember.Status.REMOVED, timezone.now()
    member.save()
    timeline_event(
        req, RequestEvent.Kind.MEMBER_REMOVED, applicant, member.user.get_username() if member.user else member.email
    )
    record(
        action="access.request.member_removed",
        actor=applicant,
        target=req,
        request=request,
        details={"email": member.email},
    )
    notifications.on_commit_member_removed(member)
    return member
