"""The applicant's pages: request access, follow requests, answer, withdraw, see entitlements.

Thin: each view fetches through a selector (404 for anything not the user's) and acts through
`services`; a refusal from a service becomes a message on the page, never a 500.
The co-applicant pages (invite, remove, the invitation link) are in coapplicants.py.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gdi_archive.accounts.permissions import is_dac_member
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.errors import ArchiveError, DocumentsMissing, NotFound

from . import attachments, selectors, services
from .forms import (
    DUO_LABELS,
    AttachmentForm,
    CommentForm,
    CopyForm,
    DocumentsForm,
    InviteForm,
    NewRequestForm,
    RequestForm,
    document_field_name,
)
from .models import AccessRequest, Entitlement, RequestEvent, RequestMember


def visible_request(request, pk) -> AccessRequest:
    """The request, if this user may see it; else 404 (never saying that it exists)."""
    try:
        return selectors.get_request_for(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None


@login_required
def my_requests(request):
    reqs = AccessRequest.objects.filter(applicant=request.user).select_related("dac").prefetch_related("datasets")
    return render(request, "access/my_requests.html", {"requests": reqs})


def _summary(*forms) -> list[tuple[str, str, str]]:
    """Every error of these forms as (anchor, label, message), for the summary at the top."""
    out = []
    for form in forms:
        for message in form.non_field_errors():
            out.append(("", "", message))
        for field in form:
            for message in field.errors:
                out.append((field.auto_id, str(field.label), message))
    return out


def _attached(req: AccessRequest) -> list[dict]:
    labels = {doc.get("kind"): doc.get("label") for doc in (req.dac.required_documents or [])}
    return [{"a": a, "label": labels.get(a.kind) or a.kind or _("Other")} for a in req.attachments.all()]


def _store_documents(req: AccessRequest, docs: DocumentsForm, request, extra=None) -> None:
    """Keep each document that passes; a refusal goes next to its field (the draft stays)."""
    uploads = list(docs.uploads())
    if extra is not None:
        uploads.append(("", extra))
    for kind, upload in uploads:
        try:
            attachments.add_attachment(
                access_request=req, applicant=request.user, upload=upload, kind=kind, request=request
            )
        except ArchiveError as exc:
            docs.add_error(document_field_name(kind) if kind else None, exc.detail)


def _submit_or_mark(req: AccessRequest, form, docs: DocumentsForm, request) -> bool:
    """Submit; a missing required document is marked next to its field. True when it went."""
    try:
        services.submit_request(
            access_request=req, applicant=request.user, comment=request.POST.get("comment", ""), request=request
        )
    except DocumentsMissing as exc:
        if not docs.mark_missing(exc.missing):
            docs.add_error(None, exc.detail)
        return False
    except ArchiveError as exc:
        form.add_error(None, exc.detail)
        return False
    return True


def _edit_page(request, req, form, docs):
    question = req.events.filter(kind="returned").order_by("-at", "-id").first() if req.status == "returned" else None
    return render(
        request,
        "access/request_edit.html",
        {
            "form": form,
            "docs": docs,
            "req": req,
            "dac": req.dac,
            "question": question,
            "attached": _attached(req),
            "summary": _summary(form, docs),
            "comment": request.POST.get("comment", ""),
        },
    )


@login_required
def new_request(request):
    """Datasets of one DAC: the one the applicant came from, plus any others of that DAC.

    The DAC's documents are file fields. When a document is refused or a required one is
    missing, what passed is kept as a draft and the edit form of that draft says what is wrong.
    """
    wanted = request.GET.getlist("dataset") or request.POST.getlist("datasets")
    first = Dataset.objects.filter(accession__in=wanted, status=Dataset.Status.RELEASED).select_related("dac").first()
    if first is None:
        messages.info(request, _("Choose a dataset in the catalogue first, then ask for access from its page."))
        return redirect("catalogue")
    siblings = list(Dataset.objects.filter(dac=first.dac, status=Dataset.Status.RELEASED).order_by("accession"))
    choices = [(d.accession, f"{d.accession} — {d.title}") for d in siblings]
    if request.method == "POST":
        form = NewRequestForm(request.POST, request.FILES, dataset_choices=choices)
        docs = DocumentsForm(request.POST, request.FILES, dac=first.dac)
        if form.is_valid() and docs.is_valid():
            data = form.cleaned_data
            try:
                req = services.create_request(
                    applicant=request.user,
                    datasets=data["datasets"],
                    title=data["title"],
                    purpose=data["purpose"],
                    institution=data["institution"],
                    duo=data["duo"],
                    accept_terms=data["accept_terms"],
                    language=translation.get_language() or "en",
                    request=request,
                )
            except ArchiveError as exc:
                form.add_error(None, exc.detail)
            else:
                _store_documents(req, docs, request, extra=data.get("attachment"))
                if not docs.errors and "submit" in request.POST and _submit_or_mark(req, form, docs, request):
                    messages.success(request, _("Your request was sent to %(dac)s.") % {"dac": req.dac.name})
                    return redirect("request-detail", pk=req.pk)
                if not docs.errors and not form.errors:
                    messages.success(request, _("Your draft was saved. Submit it when it is ready."))
                    return redirect("request-detail", pk=req.pk)
                messages.info(request, _("Your draft was saved, but it was not submitted: see below."))
                edit = RequestForm(request.POST)
                edit.is_valid()
                for message in form.non_field_errors():
                    edit.add_error(None, message)
                req.refresh_from_db()
                return _edit_page(request, req, edit, docs)
    else:
        form = NewRequestForm(initial={"datasets": [first.accession]}, dataset_choices=choices)
        docs = DocumentsForm(dac=first.dac)
    return render(
        request,
        "access/request_new.html",
        {"form": form, "docs": docs, "dac": first.dac, "datasets": siblings, "summary": _summary(form, docs)},
    )


@login_required
def request_detail(request, pk):
    req = visible_request(request, pk)
    is_applicant = req.applicant_id == request.user.pk
    is_member = is_dac_member(request.user, req.dac)
    context = {
        "req": req,
        "is_applicant": is_applicant,
        "is_member": is_member,
        "datasets": req.datasets.all(),
        "events": req.events.select_related("actor")
        if is_member and not is_applicant
        else req.events.select_related("actor").exclude(kind__in=RequestEvent.DAC_ONLY),
        "attachments": req.attachments.all(),
        "entitlements": _with_state(req.entitlements.select_related("dataset")),
        "duo_labels": [(code, DUO_LABELS.get(code, "")) for code in req.duo],
        "comment_form": CommentForm(),
        "attachment_form": AttachmentForm(),
        "documents": _attached(req),
        "missing": services.missing_documents(req) if req.is_editable else [],
        "members": req.members.exclude(status=RequestMember.Status.REMOVED).select_related("user"),
        "invite_form": InviteForm(),
        "copy_form": CopyForm(),
        "question": req.events.filter(kind="returned").order_by("-at", "-id").first()
        if req.status == "returned"
        else None,
    }
    return render(request, "access/request_detail.html", context)


@login_required
@require_POST
def copy(request, pk):
    """A new draft from a closed request; the terms are accepted again on the way."""
    req = visible_request(request, pk)
    form = CopyForm(request.POST)
    try:
        new = services.copy_request(
            access_request=req,
            applicant=request.user,
            accept_terms=form.is_valid() and form.cleaned_data["accept_terms"],
            language=translation.get_language() or "en",
            request=request,
        )
    except ArchiveError as exc:
        messages.error(request, exc.detail)
        return redirect("request-detail", pk=req.pk)
    messages.success(
        request, _("A new draft was made from request #%(pk)d. Add the documents and submit it.") % {"pk": req.pk}
    )
    return redirect("request-edit", pk=new.pk)


@login_required
def edit_request(request, pk):
    """Change a draft, or answer a returned request (then submit again); documents too."""
    req = visible_request(request, pk)
    if req.applicant_id != request.user.pk:
        raise Http404
    present = set(req.attachments.values_list("kind", flat=True))
    if request.method == "POST":
        if not req.is_editable:
            messages.error(request, _("A %(status)s request cannot be changed.") % {"status": req.get_status_display()})
            return redirect("request-detail", pk=req.pk)
        form = RequestForm(request.POST)
        docs = DocumentsForm(request.POST, request.FILES, dac=req.dac, present=present)
        if form.is_valid() and docs.is_valid():
            data = form.cleaned_data
            try:
                services.update_request(
                    access_request=req,
                    applicant=request.user,
                    title=data["title"],
                    purpose=data["purpose"],
                    institution=data["institution"],
                    duo=data["duo"],
                    request=request,
                )
            except ArchiveError as exc:
                form.add_error(None, exc.detail)
            else:
                _store_documents(req, docs, request)
                if not docs.errors:
                    if "submit" not in request.POST:
                        messages.success(request, _("Your changes were saved."))
                        return redirect("request-detail", pk=req.pk)
                    if _submit_or_mark(req, form, docs, request):
                        messages.success(request, _("Your request was sent to %(dac)s.") % {"dac": req.dac.name})
                        return redirect("request-detail", pk=req.pk)
        req.refresh_from_db()
        return _edit_page(request, req, form, docs)
    form = RequestForm(
        initial={"title": req.title, "purpose": req.purpose, "institution": req.institution, "duo": req.duo}
    )
    return _edit_page(request, req, form, DocumentsForm(dac=req.dac, present=present))


def act_on_request(request, pk, action, success):
    """Run `action(req)` on a visible request; its refusal becomes a message, not an error page."""
    req = visible_request(request, pk)
    try:
        action(req)
        messages.success(request, success)
    except ArchiveError as exc:
        messages.error(request, exc.detail)
    return redirect("request-detail", pk=req.pk)


@login_required
@require_POST
def submit(request, pk):
    return act_on_request(
        request,
        pk,
        lambda req: services.submit_request(access_request=req, applicant=request.user, request=request),
        _("Your request was submitted."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request, pk):
    """GET: what withdrawing (or, for a draft, deleting) will do, and a button; POST: do it.
    Works without JavaScript: the confirmation is a page of its own."""
    req = visible_request(request, pk)
    if request.method == "GET":
        if req.applicant_id != request.user.pk:
            raise Http404
        if not req.is_open:
            messages.info(
                request,
                _("This request is %(status)s: there is nothing to withdraw.") % {"status": req.get_status_display()},
            )
            return redirect("request-detail", pk=req.pk)
        return render(request, "confirm.html", _withdraw_confirmation(req))
    if req.status == AccessRequest.Status.DRAFT and req.applicant_id == request.user.pk:
        try:
            services.delete_draft(access_request=req, applicant=request.user, request=request)
        except ArchiveError as exc:
            messages.error(request, exc.detail)
            return redirect("request-detail", pk=req.pk)
        messages.success(request, _("Your draft “%(title)s” was deleted.") % {"title": req.title})
        return redirect("my-requests")
    return act_on_request(
        request,
        pk,
        lambda req: services.withdraw_request(
            access_request=req, applicant=request.user, comment=request.POST.get("comment", ""), request=request
        ),
        _("Your request was withdrawn."),
    )


def _withdraw_confirmation(req) -> dict:
    names = ", ".join(d.accession for d in req.datasets.all())
    if req.status == AccessRequest.Status.DRAFT:
        return {
            "title": _("Delete the draft “%(title)s”?") % {"title": req.title},
            "consequences": [
                _(
                    "This draft was never sent to the committee. Deleting it removes it, with its text and attachments, for good."
                ),
                _("To ask for access to %(datasets)s later, start a new request from the dataset's page.")
                % {"datasets": names},
            ],
            "button": _("Delete draft"),
            "action": reverse("request-withdraw", args=[req.pk]),
            "cancel": reverse("request-detail", args=[req.pk]),
        }
    return {
        "title": _("Withdraw request #%(pk)s “%(title)s”?") % {"pk": req.pk, "title": req.title},
        "consequences": [
            _(
                "%(dac)s stops reviewing it and will not decide on it. The request stays in your list as withdrawn, and cannot be submitted again."
            )
            % {"dac": req.dac.name},
            _("Access you already have is not affected. To ask for %(datasets)s again, start a new request.")
            % {"datasets": names},
        ],
        "button": _("Withdraw request"),
        "with_comment": True,
        "action": reverse("request-withdraw", args=[req.pk]),
        "cancel": reverse("request-detail", args=[req.pk]),
    }


@login_required
@require_POST
def comment(request, pk):
    return act_on_request(
        request,
        pk,
        lambda req: services.add_comment(
            access_request=req, author=request.user, comment=request.POST.get("comment", ""), request=request
        ),
        _("Your comment was added."),
    )


@login_required
@require_POST
def upload_attachment(request, pk):
    req = visible_request(request, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a PDF file to attach."))
        return redirect("request-detail", pk=req.pk)
    return act_on_request(
        request,
        pk,
        lambda r: attachments.add_attachment(
            access_request=r, applicant=request.user, upload=form.cleaned_data["attachment"], request=request
        ),
        _("The attachment was added."),
    )


@login_required
def download_attachment(request, pk, attachment_pk):
    """Only the applicant and the members of the request's DAC; the file never has a public URL."""
    try:
        attachment = selectors.get_attachment_for(user=request.user, request_pk=pk, pk=attachment_pk)
    except NotFound:
        raise Http404 from None
    path = attachments.path_of(attachment)
    if not path.is_file():
        raise Http404
    response = FileResponse(
        open(path, "rb"), content_type="application/pdf", as_attachment=False, filename=attachment.name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def my_access(request):
    ents = Entitlement.objects.filter(user=request.user).select_related("dataset", "dataset__dac", "access_request")
    return render(request, "access/my_access.html", {"entitlements": _with_state(ents)})


def _with_state(entitlements) -> list[Entitlement]:
    now = timezone.now()
    ents = list(entitlements)
    for e in ents:
        e.state = _state(e, now)
    return ents


def _state(e: Entitlement, now) -> str:
    """What the entitlement means today: "revoked", "expired" (also an active one whose end
    passed before the nightly task marked it), "pending" (starts later) or "live"."""
    if e.status == Entitlement.Status.REVOKED:
        return "revoked"
    if e.status == Entitlement.Status.EXPIRED or (e.end is not None and e.end <= now):
        return "expired"
    if e.start > now:
        return "pending"
    return "live"
