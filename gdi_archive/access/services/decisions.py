"""The committee's side: approve (as many approvals as the DAC needs), reject, return, comment,
remark and ask another member for a review."""

from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gdi_archive.accounts.permissions import is_dac_member
from gdi_archive.audit.services import record
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.errors import Conflict, Forbidden, InvalidInput

from .. import notifications, selectors
from ..models import AccessRequest, Decision, Entitlement, RequestEvent, RequestMember, TermsAcceptance
from .shared import S, clean_text, locked, timeline_event


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
    req = locked(access_request)
    _check_decider(req, member)
    end = _parse_end(end)
    if end is not None:
        check_end(end, list(req.datasets.all()))
    comment = clean_text(comment, _("The comment"), required=False, max_length=20000)
    approvals, given, required = _record_approval(req, member, end=end, comment=comment, request=request)
    if given < required:
        timeline_event(
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
    timeline_event(req, RequestEvent.Kind.APPROVED, member, comment)
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
    req = locked(access_request)
    _check_decider(req, member)
    reason = clean_text(reason, _("The reason"), required=True, max_length=20000)
    Decision.objects.create(
        access_request=req, member=member, verdict=Decision.Verdict.REJECT, round=req.round, comment=reason
    )
    req.status = S.REJECTED
    req.decided_at = timezone.now()
    req.save()
    timeline_event(req, RequestEvent.Kind.REJECTED, member, reason)
    record(action="access.request.rejected", actor=member, target=req, request=request, details={"reason": reason})
    notifications.on_commit_decided(req)
    return req


@transaction.atomic
def return_request(*, access_request: AccessRequest, member, comment: str, request=None) -> AccessRequest:
    """Send back to the applicant for changes; they answer and submit again."""
    req = locked(access_request)
    _check_decider(req, member)
    comment = clean_text(comment, _("The comment"), required=True, max_length=20000)
    Decision.objects.create(
        access_request=req, member=member, verdict=Decision.Verdict.RETURN, round=req.round, comment=comment
    )
    req.status = S.RETURNED
    req.save()
    timeline_event(req, RequestEvent.Kind.RETURNED, member, comment)
    record(action="access.request.returned", actor=member, target=req, request=request, details={"comment": comment})
    notifications.on_commit_decided(req)
    return req


@transaction.atomic
def add_comment(*, access_request: AccessRequest, author, comment: str, request=None) -> RequestEvent:
    """A note on the timeline from the applicant or a member of the DAC."""
    req = locked(access_request)
    if req.applicant_id != author.pk and not is_dac_member(author, req.dac):
        raise Forbidden(_("You cannot comment on this request."))
    if req.status == S.WITHDRAWN:
        raise Conflict(_("A withdrawn request takes no more comments."))
    comment = clean_text(comment, _("The comment"), required=True, max_length=20000)
    event = timeline_event(req, RequestEvent.Kind.COMMENT, author, comment)
    record(action="access.request.commented", actor=author, target=req, request=request)
    return event


@transaction.atomic
def add_remark(*, access_request: AccessRequest, member, comment: str, request=None) -> RequestEvent:
    """A DAC member's note, no decision; seen by the DAC only."""
    req = locked(access_request)
    if not is_dac_member(member, req.dac):
        raise Forbidden(_("Only members of %(dac)s can add remarks.") % {"dac": req.dac.name})
    if req.status == S.DRAFT:
        raise Conflict(_("A draft is not with the committee yet."))
    comment = clean_text(comment, _("The remark"), required=True, max_length=20000)
    event = timeline_event(req, RequestEvent.Kind.REMARK, member, comment)
    record(action="access.request.remarked", actor=member, target=req, request=request)
    return event


@transaction.atomic
def ask_review(
    *, access_request: AccessRequest, member, reviewer: str, comment: str = "", request=None
) -> RequestEvent:
    """Ask another member of the same DAC to look at a submitted request (they are emailed)."""
    req = locked(access_request)
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
    comment = clean_text(comment, _("The comment"), required=False, max_length=20000)
    event = timeline_event(
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
