"""The applicant's pages: request access, follow requests, answer, withdraw, see entitlements.

Thin: each view fetches through a selector (404 for anything not the user's) and acts through
`services`; a refusal from a service becomes a message on the page, never a 500.
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
from gdi_archive.common.errors import ArchiveError, NotFound

from . import attachments, selectors, services
from .forms import DUO_LABELS, AttachmentForm, CommentForm, NewRequestForm, RequestForm
from .models import AccessRequest, Entitlement, RequestEvent


def _get(request, pk) -> AccessRequest:
    try:
        return selectors.get_request_for(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None


@login_required
def my_requests(request):
    reqs = AccessRequest.objects.filter(applicant=request.user).select_related("dac").prefetch_related("datasets")
    return render(request, "access/my_requests.html", {"requests": reqs})


@login_required
def new_request(request):
    """Datasets of one DAC: the one the applicant came from, plus any others of that DAC."""
    wanted = request.GET.getlist("dataset") or request.POST.getlist("datasets")
    first = Dataset.objects.filter(accession__in=wanted, status=Dataset.Status.RELEASED).select_related("dac").first()
    if first is None:
        messages.info(request, _("Choose a dataset in the catalogue first, then ask for access from its page."))
        return redirect("catalogue")
    siblings = list(Dataset.objects.filter(dac=first.dac, status=Dataset.Status.RELEASED).order_by("accession"))
    choices = [(d.accession, f"{d.accession} — {d.title}") for d in siblings]
    if request.method == "POST":
        form = NewRequestForm(request.POST, request.FILES, dataset_choices=choices)
        if form.is_valid():
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
                if data.get("attachment"):
                    try:
                        attachments.add_attachment(
                            access_request=req, applicant=request.user, upload=data["attachment"], request=request
                        )
                    except ArchiveError as exc:
                        messages.error(request, exc.detail)
                if "submit" in request.POST:
                    try:
                        services.submit_request(access_request=req, applicant=request.user, request=request)
                        messages.success(request, _("Your request was sent to %(dac)s.") % {"dac": req.dac.name})
                    except ArchiveError as exc:
                        messages.error(request, exc.detail)
                else:
                    messages.success(request, _("Your draft was saved. Submit it when it is ready."))
                return redirect("request-detail", pk=req.pk)
    else:
        form = NewRequestForm(initial={"datasets": [first.accession]}, dataset_choices=choices)
    return render(request, "access/request_new.html", {"form": form, "dac": first.dac, "datasets": siblings})


@login_required
def request_detail(request, pk):
    req = _get(request, pk)
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
    }
    return render(request, "access/request_detail.html", context)


@login_required
def edit_request(request, pk):
    """Change a draft, or answer a returned request (then submit again)."""
    req = _get(request, pk)
    if req.applicant_id != request.user.pk:
        raise Http404
    if request.method == "POST":
        form = RequestForm(request.POST)
        if form.is_valid():
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
                if "submit" in request.POST:
                    services.submit_request(
                        access_request=req,
                        applicant=request.user,
                        comment=request.POST.get("comment", ""),
                        request=request,
                    )
                    messages.success(request, _("Your request was sent to %(dac)s.") % {"dac": req.dac.name})
                else:
                    messages.success(request, _("Your changes were saved."))
                return redirect("request-detail", pk=req.pk)
            except ArchiveError as exc:
                form.add_error(None, exc.detail)
    else:
        form = RequestForm(
            initial={"title": req.title, "purpose": req.purpose, "institution": req.institution, "duo": req.duo}
        )
    question = req.events.filter(kind="returned").order_by("-at", "-id").first() if req.status == "returned" else None
    return render(request, "access/request_edit.html", {"form": form, "req": req, "question": question})


def _act(request, pk, action, success):
    req = _get(request, pk)
    try:
        action(req)
        messages.success(request, success)
    except ArchiveError as exc:
        messages.error(request, exc.detail)
    return redirect("request-detail", pk=req.pk)


@login_required
@require_POST
def submit(request, pk):
    return _act(
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
    req = _get(request, pk)
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
    return _act(
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
    return _act(
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
    req = _get(request, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a PDF file to attach."))
        return redirect("request-detail", pk=req.pk)
    return _act(
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
