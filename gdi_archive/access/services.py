"""The access request life cycle: the one write path for pages, the admin, the API and tasks.

draft -> submitted -> approved | rejected | returned (-> submitted again); withdrawn before a
decision. Each function checks who is asking and what the state allows, changes the rows,
writes the timeline and the audit log in one transaction, and queues emails on commit.
"""

import re
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gdi_archive.accounts.permissions import is_dac_member
from gdi_archive.audit.services import record
from gdi_archive.catalogue import duo as duo_terms
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.errors import Conflict, Forbidden, InvalidInput

from . import notifications, selectors
from .models import AccessRequest, Decision, Entitlement, RequestEvent, TermsAcceptance

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
    clash = (Dataset.objects.filter(access_requests__in=others, pk__in=[d.pk for d in datasets])
             .values_list("accession", flat=True).first())
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
def create_request(*, applicant, datasets: list[str], title: str, purpose: str, institution: str = "",
                   duo=None, accept_terms: bool, language: str = "en", request=None) -> AccessRequest:
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
        applicant=applicant, dac=found[0].dac, title=title, purpose=purpose, institution=institution,
        duo=duo, language=(language or "en")[:8],
    )
    req.datasets.set(found)
    for dataset in found:
        acceptance, created = TermsAcceptance.objects.get_or_create(user=applicant, dataset=dataset, version=dataset.terms_version)
        if created:
            record(action="access.terms.accepted", actor=applicant, target=dataset, request=request,
                   details={"version": dataset.terms_version})
    _event(req, RequestEvent.Kind.CREATED, applicant)
    record(action="access.request.created", actor=applicant, target=req, request=request,
           details={"datasets": [d.accession for d in found], "terms_versions": {d.accession: d.terms_version for d in found}})
    return req


@transaction.atomic
def update_request(*, access_request: AccessRequest, applicant, title: str, purpose: str, institution: str = "",
                   duo=None, request=None) -> AccessRequest:
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
    resubmission = req.status == S.RETURNED
    req.status = S.SUBMITTED
    req.round += 1
    req.submitted_at = timezone.now()
    req.save()
    _event(req, RequestEvent.Kind.SUBMITTED, applicant, comment)
    record(action="access.request.submitted", actor=applicant, target=req, request=request,
           details={"round": req.round, "resubmission": resubmission})
    notifications.on_commit_submitted(req)
    return req


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


def _check_decider(req: AccessRequest, member) -> None:
    if req.applicant_id == member.pk:
        raise Forbidden(_("You cannot decide on your own request."))
    if not is_dac_member(member, req.dac):
        raise Forbidden(_("Only members of %(dac)s can decide on this request.") % {"dac": req.dac.name})
    if req.status != S.SUBMITTED:
        raise Conflict(_("Only a submitted request can be decided; this one is %(status)s.") % {"status": req.get_status_display()})
    if Decision.objects.filter(access_request=req, member=member, round=req.round).exists():
        raise Conflict(_("You have already decided on this submission."))


def _parse_end(end):
    """A date (YYYY-MM-DD, the end of that day UTC) or a datetime; None means the maximum."""
    if end in (None, ""):
        return None
    if isinstance(end, str):
        try:
            end = datetime.fromisoformat(end.strip()) if "T" in end else datetime.combine(datetime.fromisoformat(end.strip()).date(), time.max)
        except ValueError:
            raise InvalidInput(_("end must be a date (YYYY-MM-DD).")) from None
    elif not isinstance(end, datetime):
        end = datetime.combine(end, time.max)
    if timezone.is_naive(end):
        end = timezone.make_aware(end, UTC)
    if end <= timezone.now():
        raise InvalidInput(_("The end date must be in the future."))
    return end


@transaction.atomic
def approve_request(*, access_request: AccessRequest, member, end=None, comment: str = "", request=None) -> AccessRequest:
    """Record one approval; when the DAC's quorum is reached, grant an entitlement per dataset.

    Each entitlement ends at the earliest end asked for by the approving members, and never
    later than the dataset's maximum access period.
    """
    req = _locked(access_request)
    _check_decider(req, member)
    end = _parse_end(end)
    comment = _clean_text(comment, _("The comment"), required=False, max_length=20000)
    Decision.objects.create(access_request=req, member=member, verdict=Decision.Verdict.APPROVE, round=req.round,
                            comment=comment, end=end)
    approvals = selectors.current_approvals(req)
    given, required = approvals.count(), selectors.approvals_required(req.dac)
    record(action="access.request.approval", actor=member, target=req, request=request,
           details={"round": req.round, "given": given, "required": required, "comment": comment,
                    "end": end.isoformat() if end else None})
    if given < required:
        _event(req, RequestEvent.Kind.APPROVAL, member,
               comment or _("Approval %(given)d of %(required)d.") % {"given": given, "required": required})
        return req
    now = timezone.now()
    asked_ends = [d.end for d in approvals if d.end]
    datasets = list(req.datasets.all())
    if any(d.status != Dataset.Status.RELEASED for d in datasets):
        raise Conflict(_("A dataset of this request is no longer available."))
    for dataset in datasets:
        latest = now + timedelta(days=dataset.max_access_days)
        entitlement_end = min([latest, *asked_ends])
        entitlement = Entitlement.objects.create(user=req.applicant, dataset=dataset, start=now, end=entitlement_end,
                                                 granted_by=member, granted_at=now, access_request=req)
        record(action="access.entitlement.granted", actor=member, target=entitlement, request=request,
               details={"user": req.applicant.get_username(), "dataset": dataset.accession,
                        "start": now.isoformat(), "end": entitlement_end.isoformat(), "access_request": req.pk})
    req.status = S.APPROVED
    req.decided_at = now
    req.save()
    _event(req, RequestEvent.Kind.APPROVED, member, comment)
    record(action="access.request.approved", actor=member, target=req, request=request,
           details={"round": req.round, "approvers": [d.member.get_username() for d in approvals]})
    notifications.on_commit_decided(req)
    return req


@transaction.atomic
def reject_request(*, access_request: AccessRequest, member, reason: str, request=None) -> AccessRequest:
    req = _locked(access_request)
    _check_decider(req, member)
    reason = _clean_text(reason, _("The reason"), required=True, max_length=20000)
    Decision.objects.create(access_request=req, member=member, verdict=Decision.Verdict.REJECT, round=req.round, comment=reason)
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
    Decision.objects.create(access_request=req, member=member, verdict=Decision.Verdict.RETURN, round=req.round, comment=comment)
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
    record(action="access.entitlement.revoked", actor=member, target=ent, request=request,
           details={"user": ent.user.get_username(), "dataset": ent.dataset.accession, "reason": reason})
    notifications.on_commit_revoked(ent)
    return ent


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
            record(action="access.entitlement.expired", actor=None, target=ent,
                   details={"user": ent.user.get_username(), "dataset": ent.dataset.accession, "end": ent.end.isoformat()})
            count += 1
    return count


def entitlements_to_remind(*, now=None, days: int = 14):
    now = now or timezone.now()
    return Entitlement.objects.filter(status=Entitlement.Status.ACTIVE, reminder_sent_at__isnull=True,
                                      end__gt=now, end__lte=now + timedelta(days=days))


def mark_reminded(*, entitlement_id: int) -> bool:
    """Claim the reminder with a conditional update, so two beats never send it twice."""
    with transaction.atomic():
        claimed = Entitlement.objects.filter(pk=entitlement_id, reminder_sent_at__isnull=True).update(reminder_sent_at=timezone.now())
        if claimed:
            ent = Entitlement.objects.select_related("dataset", "user").get(pk=entitlement_id)
            record(action="access.entitlement.reminded", actor=None, target=ent,
                   details={"user": ent.user.get_username(), "dataset": ent.dataset.accession, "end": ent.end.isoformat()})
    return bool(claimed)
