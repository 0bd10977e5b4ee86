"""The applicant's side: create, copy, change, submit, withdraw or delete a request."""

import re

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gdi_archive.audit.services import record
from gdi_archive.catalogue import duo as duo_terms
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.errors import Conflict, DocumentsMissing, Forbidden, InvalidInput

from .. import notifications
from ..models import AccessRequest, RequestEvent, RequestMember, Submission, TermsAcceptance
from .shared import S, clean_text, locked, timeline_event

DUO_PATTERN = re.compile(r"^DUO:\d{7}$")
MONDO_PATTERN = re.compile(r"^MONDO:\d{7}$")  # a disease, next to disease specific research


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
    title = clean_text(title, _("The project title"), required=True, max_length=300)
    purpose = clean_text(purpose, _("The research purpose"), required=True, max_length=20000)
    institution = clean_text(institution, _("The institution"), required=False, max_length=300)
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
    accept_dataset_terms(user=applicant, datasets=found, request=request)
    timeline_event(
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


def accept_dataset_terms(*, user, datasets, request=None) -> None:
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
    old = locked(access_request)
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
    req = locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can change this request."))
    if not req.is_editable:
        raise Conflict(_("A %(status)s request cannot be changed.") % {"status": req.get_status_display()})
    req.title = clean_text(title, _("The project title"), required=True, max_length=300)
    req.purpose = clean_text(purpose, _("The research purpose"), required=True, max_length=20000)
    req.institution = clean_text(institution, _("The institution"), required=False, max_length=300)
    req.duo = _clean_duo(duo)
    req.save()
    timeline_event(req, RequestEvent.Kind.EDITED, applicant)
    record(action="access.request.edited", actor=applicant, target=req, request=request)
    return req


@transaction.atomic
def submit_request(*, access_request: AccessRequest, applicant, comment: str = "", request=None) -> AccessRequest:
    req = locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can submit this request."))
    if req.status not in (S.DRAFT, S.RETURNED):
        raise Conflict(_("A %(status)s request cannot be submitted.") % {"status": req.get_status_display()})
    datasets = list(req.datasets.all())
    if any(d.status != Dataset.Status.RELEASED for d in datasets):
        raise Conflict(_("A dataset of this request is no longer available."))
    _check_no_other_open_request(applicant=applicant, datasets=datasets, exclude_pk=req.pk)
    comment = clean_text(comment, _("The comment"), required=False, max_length=20000)
    check_documents(req)
    resubmission = req.status == S.RETURNED
    req.status = S.SUBMITTED
    req.round += 1
    req.submitted_at = timezone.now()
    req.save()
    Submission.objects.create(access_request=req, round=req.round, fields=snapshot(req), at=req.submitted_at)
    timeline_event(req, RequestEvent.Kind.SUBMITTED, applicant, comment)
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
    req = locked(access_request)
    if req.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can withdraw this request."))
    if req.status not in AccessRequest.OPEN_STATES:
        raise Conflict(_("A %(status)s request cannot be withdrawn.") % {"status": req.get_status_display()})
    req.status = S.WITHDRAWN
    req.save()
    timeline_event(req, RequestEvent.Kind.WITHDRAWN, applicant, clean_text(comment, _("The comment"), required=False))
    record(action="access.request.withdrawn", actor=applicant, target=req, request=request)
    return req


@transaction.atomic
def delete_draft(*, access_request: AccessRequest, applicant, request=None) -> None:
    """A draft was never sent to the committee: deleting it removes it with its attachments
    (the audit log keeps that it existed). Any other request is withdrawn, never deleted."""
    from .. import attachments

    req = locked(access_request)
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
