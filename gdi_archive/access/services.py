"""The access request life cycle: the one write path for pages, the admin, the API and tasks.

draft -> submitted -> approved | rejected | returned (-> submitted again); withdrawn before a
decision. Each function checks who is asking and what the state allows, changes the rows,
writes the timeline and the audit log in one transaction, and queues emails on commit.
"""

import hashlib
import re
import secrets
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gdi_archive.accounts.models import ExternalIdentity
from gdi_archive.accounts.permissions import is_dac_member
from gdi_archive.audit.services import record
from gdi_archive.catalogue import duo as duo_terms
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.errors import Conflict, DocumentsMissing, Forbidden, InvalidInput, NotFound

from . import notifications, selectors
from .models import (
    AccessRequest,
    DACBlock,
    Decision,
    Entitlement,
    RequestEvent,
    RequestMember,
    Submission,
    TermsAcceptance,
)

DUO_PATTERN = re.compile(r"^DUO:\d{7}$")
MONDO_PATTERN = re.compile(r"^MONDO:\d{7}$")  # a disease, next to disease specific research
S = AccessRequest.Status


def _locked(access_request: AccessRequest) -> AccessRequest:
    """Re-read the row under a lock so two decisions at once see each other."""
    return AccessRequest.objects.select_for_update().select_related("dac").get(pk=access_request.pk)


def _event(req, kind, actor, comment=""):
    return RequestEvent.objects.create(access_request=req, kind=kind, actor=actor, comment=comment)


def _clean_text(value, field: str, *, required: bool, max_length: int | None = None) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise InvalidInput(_("%(field)s must be text.") % {"field": field})
    if required and not text:
        raise InvalidInput(_("%(field)s is required.") % {"field": field})
    if max_length and len(text) > max_length:
        raise InvalidInput(_("%(field)s is too long (at most %(n)d characters).") % {"field": field, "n": max_length})
    return text


def _clean_duo(duo) -> list[str]:
    if duo is None:
        return []
    if not isinstance(duo, (list, tuple)) or not all(isinstance(code, str) for code in duo):
        raise InvalidInput(_("duo must be a list of DUO terms such as DUO:0000042."))
    codes = []
    for code in duo:
        code = code.strip().upper()
        if not DUO_PATTERN.match(code) and not MONDO_PATTERN.match(code):
            raise InvalidInput(_("%(code)s is not a DUO term (DUO: and seven digits).") % {"code": code})
        if DUO_PATTERN.match(code) and code not in duo_terms.TERMS:
            raise InvalidInput(_("%(code)s is not a DUO term this archive knows.") % {"code": code})
        if code not in codes:
            codes.append(code)
    return codes


def _check_no_other_open_request(*, applicant, datasets, exclude_pk=None) -> None:
    # Lock the applicant's row: two tabs submitting at once are serialised, so only one is open.
    get_user_model().objects.select_for_update().filter(pk=applicant.pk).first()
    others = AccessRequest.objects.open().filter(applicant=applicant, datasets__in=datasets)
    if exclude_pk:
        others = others.exclude(pk=exclude_pk)
    clash = (
        Dataset.objects.filter(access_requests__in=others, pk__in=[d.pk for d in datasets])
        .values_list("accession", flat=True)
        .first()
    )
    if clash:
        raise Conflict(_("You already have an open request for %(acc)s.") % {"acc": clash})


def _resolve_datasets(accessions) -> list[Dataset]:
    if not isinstance(accessions, (list, tuple)) or not accessions or not all(isinstance(a, str) for a in accessions):
        raise InvalidInput(_("Choose at least one dataset."))
    unique = list(dict.fromkeys(a.strip() for a in accessions))
    datasets = list(Dataset.objects.filter(accession__in=unique, status=Dataset.Status.RELEASED).select_related("dac"))
    if len(datasets) != len(unique):
        found = {d.accession for d in datasets}
        missing = next(a for a in unique if a not in found)
        raise InvalidInput(_("There is no released dataset %(acc)s.") % {"acc": missing})
    if len({d.dac_id for d in datasets}) != 1:
        raise InvalidInput(_("All datasets of one request must belong to the same DAC."))
    return datasets


@transaction.atomic
def create_request(
    *,
    applicant,
    datasets: list[str],
    title: str,
    purpose: str,
    institution: str = "",
    duo=None,
    accept_terms: bool,
    language: str = "en",
    request=None,
    copied_from: AccessRequest | None = None,
) -> AccessRequest:
    """A draft request; accepting each dataset's terms (current version) is part of applying."""
    found = _resolve_datasets(datasets)
    title = _clean_text(title, _("The project title"), required=True, max_length=300)
    purpose = _clean_text(purpose, _("The research purpose"), required=True, max_length=20000)
    institution = _clean_text(institution, _("The institution"), required=False, max_length=300)
    duo = _clean_duo(duo)
    if accept_terms is not True:
        raise InvalidInput(_("You must accept the terms of use of every dataset you ask for."))
    _check_no_other_open_request(applicant=applicant, datasets=found)
    req = AccessRequest.objects.create(
        applicant=applicant,
        dac=found[0].dac,
        title=title,
        purpose=purpose,
        institution=institution,
        duo=duo,
        language=(language or "en")[:8],
        copied_from=copied_from,
    )
    req.datasets.set(found)
    _accept_terms(user=applicant, datasets=found, request=request)
    _event(
        req,
        RequestEvent.Kind.CREATED,
        applicant,
        _("Copied from request #%(id)d.") % {"id": copied_from.pk} if copied_from else "",
    )
    record(
        action="access.request.created",
        actor=applicant,
        target=req,
        request=request,
        details={
            "datasets": [d.accession for d in found],
            "terms_versions": {d.accession: d.terms_version for d in found},
            "copied_from": copied_from.pk if copied_from else None,
        },
    )
    return req


def _accept_terms(*, user, datasets, request=None) -> None:
    for dataset in datasets:
        _, created = TermsAcceptance.objects.get_or_create(user=user, dataset=dataset, version=dataset.terms_version)
        if created:
            record(
                action="access.terms.accepted",
                actor=user,
                target=dataset,
                request=request,
                details={"version": dataset.terms_version},
            )


@transaction.atomic
def copy_request(
    *, access_request: AccessRequest, applicant, accept_terms: bool, language: str = "en", request=None
) -> AccessRequest:
    """A new draft from a decided, withdrawn or expired request: the same datasets, title, purpose,
    institution and intended use; no documents, and the terms are accepted again."""
    old = _locked(access_request)
    if old.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can copy this request."))
    if old.is_open:
        raise Conflict(
            _("A %(status)s request is still open; change it instead of copying it.")
            % {"status": old.get_status_display()}
        )
    return create_request(
        applicant=applicant,
        datasets=[d.accession for d in old.datasets.all()],
        title=old.title,
        purpose=old.purpose,
        institution=old.institution,
        duo=old.duo,
        accept_terms=accept_terms,
        language=language,
        request=request,
        copied_from=old,
    )


@transaction.atomic
def update_request(
    *, access_request: AccessRequest, applicant, title: str, purpose: str, institution: str = "", duo=None, request=None
) -> AccessRequest:
    """Change a draft, or answer a returned request before submitting it again."""
    req = _locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can change this request."))
    if not req.is_editable:
        raise Conflict(_("A %(status)s request cannot be changed.") % {"status": req.get_status_display()})
    req.title = _clean_text(title, _("The project title"), required=True, max_length=300)
    req.purpose = _clean_text(purpose, _("The research purpose"), required=True, max_length=20000)
    req.institution = _clean_text(institution, _("The institution"), required=False, max_length=300)
    req.duo = _clean_duo(duo)
    req.save()
    _event(req, RequestEvent.Kind.EDITED, applicant)
    record(action="access.request.edited", actor=applicant, target=req, request=request)
    return req


@transaction.atomic
def submit_request(*, access_request: AccessRequest, applicant, comment: str = "", request=None) -> AccessRequest:
    req = _locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can submit this request."))
    if req.status not in (S.DRAFT, S.RETURNED):
        raise Conflict(_("A %(status)s request cannot be submitted.") % {"status": req.get_status_display()})
    datasets = list(req.datasets.all())
    if any(d.status != Dataset.Status.RELEASED for d in datasets):
        raise Conflict(_("A dataset of this request is no longer available."))
    _check_no_other_open_request(applicant=applicant, datasets=datasets, exclude_pk=req.pk)
    comment = _clean_text(comment, _("The comment"), required=False, max_length=20000)
    check_documents(req)
    resubmission = req.status == S.RETURNED
    req.status = S.SUBMITTED
    req.round += 1
    req.submitted_at = timezone.now()
    req.save()
    Submission.objects.create(access_request=req, round=req.round, fields=snapshot(req), at=req.submitted_at)
    _event(req, RequestEvent.Kind.SUBMITTED, applicant, comment)
    record(
        action="access.request.submitted",
        actor=applicant,
        target=req,
        request=request,
        details={"round": req.round, "resubmission": resubmission},
    )
    notifications.on_commit_submitted(req)
    return req


def missing_documents(req: AccessRequest) -> list[dict]:
    """The DAC's required documents this request has no file for, in the DAC's order."""
    present = set(req.attachments.values_list("kind", flat=True))
    return [doc for doc in (req.dac.required_documents or []) if doc.get("required") and doc.get("kind") not in present]


def check_documents(req: AccessRequest) -> None:
    missing = missing_documents(req)
    if missing:
        raise DocumentsMissing(
            _("Add the required documents before submitting: %(labels)s.")
            % {"labels": ", ".join(d.get("label") or d["kind"] for d in missing)},
            missing=[d["kind"] for d in missing],
        )


def snapshot(req: AccessRequest) -> dict:
    """What the applicant wrote, as text, for the difference the DAC sees after a return."""
    return {
        "title": req.title,
        "purpose": req.purpose,
        "institution": req.institution,
        "duo": list(req.duo),
        "documents": [f"{a.kind or '-'}: {a.name} ({a.sha256[:12]})" for a in req.attachments.all()],
        "members": sorted(m.email for m in req.members.exclude(status=RequestMember.Status.REMOVED)),
    }


@transaction.atomic
def withdraw_request(*, access_request: AccessRequest, applicant, comment: str = "", request=None) -> AccessRequest:
    req = _locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can withdraw this request."))
    if req.status not in AccessRequest.OPEN_STATES:
        raise Conflict(_("A %(status)s request cannot be withdrawn.") % {"status": req.get_status_display()})
    req.status = S.WITHDRAWN
    req.save()
    _event(req, RequestEvent.Kind.WITHDRAWN, applicant, _clean_text(comment, _("The comment"), required=False))
    record(action="access.request.withdrawn", actor=applicant, target=req, request=request)
    return req


@transaction.atomic
def delete_draft(*, access_request: AccessRequest, applicant, request=None) -> None:
    """A draft was never sent to the committee: deleting it removes it with its attachments
    (the audit log keeps that it existed). Any other request is withdrawn, never deleted."""
    from . import attachments

    req = _locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can delete this draft."))
    if req.status != S.DRAFT:
        raise Conflict(
            _("Only a draft can be deleted; this request is %(status)s.") % {"status": req.get_status_display()}
        )
    paths = [attachments.path_of(a) for a in req.attachments.all()]
    record(
        action="access.request.draft_deleted",
        actor=applicant,
        target=req,
        request=request,
        details={"title": req.title, "attachments": len(paths)},
    )
    req.delete()
    transaction.on_commit(lambda: [path.unlink(missing_ok=True) for path in paths])


def _check_decider(req: AccessRequest, member) -> None:
    if req.applicant_id == member.pk:
        raise Forbidden(_("You cannot decide on your own request."))
    if not is_dac_member(member, req.dac):
        raise Forbidden(_("Only members of %(dac)s can decide on this request.") % {"dac": req.dac.name})
    if req.status != S.SUBMITTED:
        raise Conflict(
            _("Only a submitted request can be decided; this one is %(status)s.") % {"status": req.get_status_display()}
        )
    if Decision.objects.filter(access_request=req, member=member, round=req.round).exists():
        raise Conflict(_("You have already decided on this submission."))


def _parse_end(end):
    """A date (YYYY-MM-DD, the end of that day UTC) or a datetime; None means the maximum."""
    if end in (None, ""):
        return None
    if isinstance(end, str):
        try:
            end = (
                datetime.fromisoformat(end.strip())
                if "T" in end
                else datetime.combine(datetime.fromisoformat(end.strip()).date(), time.max)
            )
        except ValueError:
            raise InvalidInput(_("end must be a date (YYYY-MM-DD).")) from None
    elif not isinstance(end, datetime):
        end = datetime.combine(end, time.max)
    if timezone.is_naive(end):
        end = timezone.make_aware(end, UTC)
    if end <= timezone.now():
        raise InvalidInput(_("The end date must be in the future."))
    return end


def end_limit(dataset, now=None):
    """The last day an entitlement to this dataset may end on (the end of that day, UTC)."""
    return ((now or timezone.now()) + timedelta(days=dataset.max_access_days)).astimezone(UTC).date()


def check_end(end, datasets) -> None:
    """An end past a dataset's longest access period is refused, with the limit: never cut silently."""
    for dataset in datasets:
        limit = end_limit(dataset)
        if end.astimezone(UTC).date() > limit:
            raise InvalidInput(
                _("The end date is past what %(acc)s allows: at most %(days)d days, until %(limit)s.")
                % {"acc": dataset.accession, "days": dataset.max_access_days, "limit": limit.isoformat()}
            )


@transaction.atomic
def approve_request(
    *, access_request: AccessRequest, member, end=None, comment: str = "", request=None
) -> AccessRequest:
    """Record one approval; when the DAC's quorum is reached, grant an entitlement per dataset.

    Each entitlement ends at the earliest end asked for by the approving members (an end past a
    dataset's longest period is refused, not cut), or at the dataset's longest period when none
    was asked for. The applicant and every co-applicant who joined and accepted the current terms
    get one.
    """
    req = _locked(access_request)
    _check_decider(req, member)
    end = _parse_end(end)
    if end is not None:
        check_end(end, list(req.datasets.all()))
    comment = _clean_text(comment, _("The comment"), required=False, max_length=20000)
    approvals, given, required = _record_approval(req, member, end=end, comment=comment, request=request)
    if given < required:
        _event(
            req,
            RequestEvent.Kind.APPROVAL,
            member,
            comment or _("Approval %(given)d of %(required)d.") % {"given": given, "required": required},
        )
        return req
    now = timezone.now()
    _grant_entitlements(req, member, approvals, now=now, request=request)
    req.status = S.APPROVED
    req.decided_at = now
    req.save()
    _event(req, RequestEvent.Kind.APPROVED, member, comment)
    record(
        action="access.request.approved",
        actor=member,
        target=req,
        request=request,
        details={"round": req.round, "approvers": [d.member.get_username() for d in approvals]},
    )
    notifications.on_commit_decided(req)
    return req


def _record_approval(req, member, *, end, comment, request):
    """This member's approval of the current round: (the round's approvals, how many, how many needed)."""
    Decision.objects.create(
        access_request=req, member=member, verdict=Decision.Verdict.APPROVE, round=req.round, comment=comment, end=end
    )
    approvals = selectors.current_approvals(req)
    given, required = approvals.count(), selectors.approvals_required(req.dac)
    record(
        action="access.request.approval",
        actor=member,
        target=req,
        request=request,
        details={
            "round": req.round,
            "given": given,
            "required": required,
            "comment": comment,
            "end": end.isoformat() if end else None,
        },
    )
    return approvals, given, required


def _entitlement_holders(req, dataset) -> list:
    """The applicant (who accepted when applying) and each co-applicant who joined and accepted
    this dataset's current terms."""
    accepted = set(
        TermsAcceptance.objects.filter(dataset=dataset, version=dataset.terms_version).values_list("user_id", flat=True)
    )
    joined = [m.user for m in req.members.filter(status=RequestMember.Status.ACCEPTED).select_related("user")]
    return [req.applicant, *[user for user in joined if user.pk in accepted]]


def _grant_entitlements(req, member, approvals, *, now, request) -> None:
    """The quorum is reached: one entitlement per dataset and holder, ending at the earliest end asked for."""
    asked_ends = [d.end for d in approvals if d.end]
    datasets = list(req.datasets.all())
    if any(d.status != Dataset.Status.RELEASED for d in datasets):
        raise Conflict(_("A dataset of this request is no longer available."))
    for dataset in datasets:
        entitlement_end = min(asked_ends) if asked_ends else now + timedelta(days=dataset.max_access_days)
        for holder in _entitlement_holders(req, dataset):
            entitlement = Entitlement.objects.create(
                user=holder,
                dataset=dataset,
                start=now,
                end=entitlement_end,
                granted_by=member,
                granted_at=now,
                access_request=req,
            )
            record(
                action="access.entitlement.granted",
                actor=member,
                target=entitlement,
                request=request,
                details={
                    "user": holder.get_username(),
                    "dataset": dataset.accession,
                    "start": now.isoformat(),
                    "end": entitlement_end.isoformat(),
                    "access_request": req.pk,
                },
            )


@transaction.atomic
def reject_request(*, access_request: AccessRequest, member, reason: str, request=None) -> AccessRequest:
    req = _locked(access_request)
    _check_decider(req, member)
    reason = _clean_text(reason, _("The reason"), required=True, max_length=20000)
    Decision.objects.create(
        access_request=req, member=member, verdict=Decision.Verdict.REJECT, round=req.round, comment=reason
    )
    req.status = S.REJECTED
    req.decided_at = timezone.now()
    req.save()
    _event(req, RequestEvent.Kind.REJECTED, member, reason)
    record(action="access.request.rejected", actor=member, target=req, request=request, details={"reason": reason})
    notifications.on_commit_decided(req)
    return req


@transaction.atomic
def return_request(*, access_request: AccessRequest, member, comment: str, request=None) -> AccessRequest:
    """Send back to the applicant for changes; they answer and submit again."""
    req = _locked(access_request)
    _check_decider(req, member)
    comment = _clean_text(comment, _("The comment"), required=True, max_length=20000)
    Decision.objects.create(
        access_request=req, member=member, verdict=Decision.Verdict.RETURN, round=req.round, comment=comment
    )
    req.status = S.RETURNED
    req.save()
    _event(req, RequestEvent.Kind.RETURNED, member, comment)
    record(action="access.request.returned", actor=member, target=req, request=request, details={"comment": comment})
    notifications.on_commit_decided(req)
    return req


@transaction.atomic
def add_comment(*, access_request: AccessRequest, author, comment: str, request=None) -> RequestEvent:
    """A note on the timeline from the applicant or a member of the DAC."""
    req = _locked(access_request)
    if req.applicant_id != author.pk and not is_dac_member(author, req.dac):
        raise Forbidden(_("You cannot comment on this request."))
    if req.status == S.WITHDRAWN:
        raise Conflict(_("A withdrawn request takes no more comments."))
    comment = _clean_text(comment, _("The comment"), required=True, max_length=20000)
    event = _event(req, RequestEvent.Kind.COMMENT, author, comment)
    record(action="access.request.commented", actor=author, target=req, request=request)
    return event


@transaction.atomic
def revoke_entitlement(*, entitlement: Entitlement, member, reason: str = "", request=None) -> Entitlement:
    ent = Entitlement.objects.select_for_update().select_related("dataset__dac", "user").get(pk=entitlement.pk)
    if not is_dac_member(member, ent.dataset.dac):
        raise Forbidden(_("Only members of the dataset's DAC can revoke this entitlement."))
    if ent.status != Entitlement.Status.ACTIVE:
        raise Conflict(_("This entitlement is already %(status)s.") % {"status": ent.status})
    reason = _clean_text(reason, _("The reason"), required=False, max_length=20000)
    ent.status = Entitlement.Status.REVOKED
    ent.revoked_at = timezone.now()
    ent.revoked_by = member
    ent.revoke_reason = reason
    ent.save()
    record(
        action="access.entitlement.revoked",
        actor=member,
        target=ent,
        request=request,
        details={"user": ent.user.get_username(), "dataset": ent.dataset.accession, "reason": reason},
    )
    notifications.on_commit_revoked(ent)
    _on_commit_withdrawn(
        user=ent.user,
        datasets=[ent.dataset.accession],
        reason=_("Access was revoked by the DAC: %(reason)s") % {"reason": reason or _("no reason given")},
    )
    return ent


def _on_commit_withdrawn(*, user, datasets: list[str], reason: str) -> None:
    """Tell the apps above (downloads) after commit that `user` lost access to `datasets`."""
    from .signals import access_withdrawn

    transaction.on_commit(
        lambda: access_withdrawn.send(sender=Entitlement, user=user, datasets=list(datasets), reason=reason)
    )


def expire_entitlements(*, now=None) -> int:
    """Mark active entitlements past their end as expired (run by beat); returns how many."""
    now = now or timezone.now()
    count = 0
    for pk in Entitlement.objects.filter(status=Entitlement.Status.ACTIVE, end__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            ent = Entitlement.objects.select_for_update().select_related("dataset", "user").get(pk=pk)
            if ent.status != Entitlement.Status.ACTIVE or ent.end > now:
                continue
            ent.status = Entitlement.Status.EXPIRED
            ent.save(update_fields=["status"])
            record(
                action="access.entitlement.expired",
                actor=None,
                target=ent,
                details={"user": ent.user.get_username(), "dataset": ent.dataset.accession, "end": ent.end.isoformat()},
            )
            _on_commit_withdrawn(user=ent.user, datasets=[ent.dataset.accession], reason=_("The access period ended."))
            count += 1
    return count


def entitlements_to_remind(*, now=None, days: int = 14):
    now = now or timezone.now()
    return Entitlement.objects.filter(
        status=Entitlement.Status.ACTIVE,
        reminder_sent_at__isnull=True,
        end__gt=now,
        end__lte=now + timedelta(days=days),
    )


def mark_reminded(*, entitlement_id: int) -> bool:
    """Claim the reminder with a conditional update, so two beats never send it twice."""
    with transaction.atomic():
        claimed = Entitlement.objects.filter(pk=entitlement_id, reminder_sent_at__isnull=True).update(
            reminder_sent_at=timezone.now()
        )
        if claimed:
            ent = Entitlement.objects.select_related("dataset", "user").get(pk=entitlement_id)
            record(
                action="access.entitlement.reminded",
                actor=None,
                target=ent,
                details={"user": ent.user.get_username(), "dataset": ent.dataset.accession, "end": ent.end.isoformat()},
            )
    return bool(claimed)


# --- co-applicants ------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invite_member(*, access_request: AccessRequest, applicant, email: str, request=None) -> RequestMember:
    """Invite a co-applicant by email; the link with the token goes to that address only."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    req = _locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can invite co-applicants."))
    if not req.is_editable:
        raise Conflict(_("Co-applicants can be invited only while the request is a draft or returned."))
    email = _clean_text(email, _("The email address"), required=True, max_length=254).lower()
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
    _event(req, RequestEvent.Kind.MEMBER_INVITED, applicant, email)
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
    req = _locked(member.access_request)
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
    _accept_terms(user=user, datasets=list(req.datasets.all()), request=request)
    member.user, member.status, member.accepted_at = user, RequestMember.Status.ACCEPTED, timezone.now()
    member.save()
    _event(req, RequestEvent.Kind.MEMBER_JOINED, user, member.email)
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
    req = _locked(access_request)
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
    _event(
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


# --- the committee's own notes --------------------------------------------------------------------


@transaction.atomic
def add_remark(*, access_request: AccessRequest, member, comment: str, request=None) -> RequestEvent:
    """A DAC member's note, no decision; seen by the DAC only."""
    req = _locked(access_request)
    if not is_dac_member(member, req.dac):
        raise Forbidden(_("Only members of %(dac)s can add remarks.") % {"dac": req.dac.name})
    if req.status == S.DRAFT:
        raise Conflict(_("A draft is not with the committee yet."))
    comment = _clean_text(comment, _("The remark"), required=True, max_length=20000)
    event = _event(req, RequestEvent.Kind.REMARK, member, comment)
    record(action="access.request.remarked", actor=member, target=req, request=request)
    return event


@transaction.atomic
def ask_review(
    *, access_request: AccessRequest, member, reviewer: str, comment: str = "", request=None
) -> RequestEvent:
    """Ask another member of the same DAC to look at a submitted request (they are emailed)."""
    req = _locked(access_request)
    if not is_dac_member(member, req.dac):
        raise Forbidden(_("Only members of %(dac)s can ask for a review.") % {"dac": req.dac.name})
    if req.status != S.SUBMITTED:
        raise Conflict(
            _("Only a submitted request can be reviewed; this one is %(status)s.")
            % {"status": req.get_status_display()}
        )
    other = req.dac.members.filter(username=reviewer, is_active=True).exclude(pk=member.pk).first()
    if other is None:
        raise InvalidInput(_("%(who)s is not another member of %(dac)s.") % {"who": reviewer, "dac": req.dac.name})
    comment = _clean_text(comment, _("The comment"), required=False, max_length=20000)
    event = _event(
        req,
        RequestEvent.Kind.REVIEW_ASKED,
        member,
        f"{other.get_username()}: {comment}" if comment else other.get_username(),
    )
    record(
        action="access.request.review_asked",
        actor=member,
        target=req,
        request=request,
        details={"reviewer": other.get_username()},
    )
    notifications.on_commit_review_asked(req, other, member, comment)
    return event


# --- DAC blocks (design.md 7, "Trust, scoped") -------------------------------------------------


def check_blocker(dac, actor) -> None:
    if not (actor is not None and actor.is_active and (actor.is_superuser or is_dac_member(actor, dac))):
        raise Forbidden(_("Only members of this DAC and operators may block or lift a block."))


def blocks_for(*, dac, actor):
    """The DAC's standing blocks, for its members and operators."""
    check_blocker(dac, actor)
    return selectors.blocks_of(dac)


@transaction.atomic
def block_person(
    *, dac, actor, reason: str, username: str = "", iss: str = "", sub: str = "", request=None
) -> DACBlock:
    """Block a local user or an external identity (iss, sub) for every dataset of `dac`, at once.

    Our own issuer with a subject is the local user of that name. The person's export copies of
    the DAC's datasets are removed after commit.
    """
    check_blocker(dac, actor)
    reason = _clean_text(reason, _("The reason"), required=True, max_length=20000)
    iss = (iss or "").strip().rstrip("/")
    sub = (sub or "").strip()
    username = (username or "").strip()
    if bool(username) == bool(iss or sub):
        raise InvalidInput(_('Give either "user" (a username) or both "iss" and "sub".'))
    if not username and not (iss and sub):
        raise InvalidInput(_('Give both "iss" and "sub" for an external identity.'))
    if iss and iss == settings.BASE_URL.rstrip("/"):
        username, iss, sub = sub, "", ""
    user = None
    if username:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise InvalidInput(_("There is no user %(name)s.") % {"name": username})
    block = DACBlock.objects.create(dac=dac, user=user, issuer=iss, subject=sub, reason=reason, created_by=actor)
    record(
        action="access.dac.blocked",
        actor=actor,
        target=block,
        request=request,
        details={"dac": dac.accession, "user": username, "iss": iss, "sub": sub, "reason": reason},
    )
    affected = [user] if user is not None else [link.user for link in _external_identities(iss=iss, sub=sub)]
    datasets = list(dac.datasets.values_list("accession", flat=True))
    for person in affected:
        _on_commit_withdrawn(
            user=person, datasets=datasets, reason=_("The DAC blocked access: %(reason)s") % {"reason": reason}
        )
    return block


def _external_identities(*, iss: str, sub: str):
    return ExternalIdentity.objects.select_related("user").filter(issuer=iss, subject=sub)


@transaction.atomic
def lift_block(*, block: DACBlock, actor, request=None) -> DACBlock:
    block = DACBlock.objects.select_for_update(of=("self",)).select_related("dac", "user").get(pk=block.pk)
    check_blocker(block.dac, actor)
    if block.lifted_at is not None:
        raise NotFound(_("There is no such block."))
    block.lifted_at = timezone.now()
    block.lifted_by = actor
    block.save(update_fields=["lifted_at", "lifted_by"])
    record(
        action="access.dac.block_lifted",
        actor=actor,
        target=block,
        request=request,
        details={
            "dac": block.dac.accession,
            "user": block.user.get_username() if block.user_id else "",
            "iss": block.issuer,
            "sub": block.subject,
        },
    )
    return block
