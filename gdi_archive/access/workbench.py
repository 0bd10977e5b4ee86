"""The DAC workbench: the pages where committee members read requests and decide (not the admin).

Thin, like the applicant's pages: requests come through the selectors (404 for another DAC's),
every action goes through `services` (the same rules as the API and the admin), and a refusal
is shown next to the form it came from, with what was typed kept.
"""

import difflib
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gdi_archive.catalogue.duo import describe
from gdi_archive.common.errors import ArchiveError, NotFound

from . import duo_match, selectors, services
from .models import AccessRequest, Decision, RequestMember, TermsAcceptance

FIELDS = [
    ("title", gettext_lazy("Project title")),
    ("purpose", gettext_lazy("Research purpose")),
    ("institution", gettext_lazy("Institution")),
    ("duo", gettext_lazy("Intended use")),
    ("documents", gettext_lazy("Documents")),
    ("members", gettext_lazy("Co-applicants")),
]


def _member_of_some_dac(user) -> bool:
    return user.is_active and (user.is_superuser or user.dacs.exists())


def _get(request, pk) -> AccessRequest:
    try:
        req = selectors.get_request_for(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None
    if not (request.user.is_superuser or req.dac.members.filter(pk=request.user.pk).exists()) or req.status == "draft":
        raise Http404
    return req


@login_required
def inbox(request):
    if not _member_of_some_dac(request.user):
        raise Http404
    tabs = selectors.dac_inbox(request.user)
    tab = request.GET.get("tab") if request.GET.get("tab") in tabs else "decide"
    now = timezone.now()
    rows = [
        {"req": r, "age_days": (now - (r.submitted_at or r.created_at)).days, "tally": selectors.approval_tally(r)}
        for r in tabs[tab]
    ]
    names = [("decide", _("To decide")), ("waiting", _("Waiting for other members")), ("decided", _("Decided"))]
    return render(
        request,
        "access/dac/inbox.html",
        {
            "tab": tab,
            "rows": rows,
            "tabs": [(key, label, len(tabs[key])) for key, label in names],
        },
    )


def _words_diff(old: str, new: str) -> str:
    """Old and new text as HTML, removed words in <del>, added ones in <ins> (everything escaped)."""
    a, b = old.split(), new.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape(" ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(' '.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(' '.join(b[j1:j2]))}</ins>")
    return mark_safe(" ".join(out))


def _as_text(value) -> str:
    if isinstance(value, list):
        return "; ".join(describe(v) if isinstance(v, str) and v.startswith("DUO:") else str(v) for v in value)
    return str(value or "")


def changes(req: AccessRequest) -> list[dict]:
    """What changed between the last two submissions (after a return), field by field."""
    snapshots = list(req.submissions.order_by("-round")[:2])
    if len(snapshots) < 2:
        return []
    new, old = snapshots[0].fields, snapshots[1].fields
    out = []
    for key, label in FIELDS:
        before, after = _as_text(old.get(key)), _as_text(new.get(key))
        if before != after:
            out.append({"label": label, "diff": _words_diff(before, after)})
    return out


def _people(req: AccessRequest, datasets) -> list[dict]:
    """The applicant and every co-applicant: identity, and the terms version each accepted."""
    entries = [(req.applicant, _("Applicant"), "accepted", req.applicant.email)]
    roles = {
        RequestMember.Status.ACCEPTED: _("Co-applicant (joined)"),
        RequestMember.Status.INVITED: _("Co-applicant (invited, not joined)"),
        RequestMember.Status.REMOVED: _("Removed by the applicant"),
    }
    entries += [(m.user, roles.get(m.status, m.status), m.status, m.email) for m in req.members.select_related("user")]
    people = []
    for user, role, status, email in entries:
        terms = []
        for d in datasets:
            version = None
            if user is not None:
                version = (
                    TermsAcceptance.objects.filter(user=user, dataset=d)
                    .order_by("-version")
                    .values_list("version", flat=True)
                    .first()
                )
            terms.append({"dataset": d, "version": version, "current": version == d.terms_version})
        identities = list(user.external_identities.all()) if user is not None else []
        people.append(
            {
                "user": user,
                "role": role,
                "status": status,
                "email": email,
                "identities": identities,
                "bona_fide": getattr(user, "bona_fide_confirmed_at", None),
                "terms": terms,
                "all_terms": status == "accepted" and all(t["current"] for t in terms),
            }
        )
    return people


class _Typed(dict):
    """What was typed into each form; a missing form or field reads as empty text."""

    def __missing__(self, key):
        return _Typed()

    def __str__(self):
        return "" if not self else super().__str__()


def _detail_context(request, req: AccessRequest, errors=None, typed=None) -> dict:
    datasets = list(req.datasets.all())
    now = timezone.now()
    limits = [{"dataset": d, "limit": services.end_limit(d, now)} for d in datasets]
    earliest = min((item["limit"] for item in limits), default=None)
    decisions = list(req.decisions.select_related("member"))
    current = [d for d in decisions if d.round == req.round]
    me = request.user
    can_decide = (
        req.status == AccessRequest.Status.SUBMITTED
        and req.applicant_id != me.pk
        and req.dac.members.filter(pk=me.pk).exists()
        and not any(d.member_id == me.pk for d in current)
    )
    kinds = {doc.get("kind"): doc.get("label") for doc in (req.dac.required_documents or [])}
    returned = req.events.filter(kind="returned").order_by("-at", "-id").first()
    return {
        "req": req,
        "datasets": datasets,
        "limits": limits,
        "earliest_limit": earliest,
        "default_end": (now + timedelta(days=min((d.max_access_days for d in datasets), default=365))).date(),
        "duo": duo_match.for_request(req),
        "duo_labels": [describe(code) for code in req.duo],
        "dataset_duo": [(d, [describe(code) for code in d.duo]) for d in datasets],
        "people": _people(req, datasets),
        "not_accepted": [
            p for p in _people(req, datasets) if not p["all_terms"] and p["status"] != RequestMember.Status.REMOVED
        ],
        "documents": [{"a": a, "label": kinds.get(a.kind) or a.kind or _("Other")} for a in req.attachments.all()],
        "missing": services.missing_documents(req),
        "events": req.events.select_related("actor"),
        "current_decisions": current,
        "decisions": decisions,
        "approvals": sum(1 for d in current if d.verdict == Decision.Verdict.APPROVE),
        "required": max(1, req.dac.required_approvals),
        "can_decide": can_decide,
        "is_member": req.dac.members.filter(pk=me.pk).exists(),
        "reviewers": req.dac.members.filter(is_active=True).exclude(pk=me.pk).exclude(pk=req.applicant_id),
        "changes": changes(req),
        "returned": returned,
        "entitlements": req.entitlements.select_related("user", "dataset"),
        "errors": _Typed(errors or {}),
        # A list, not errors.items: the template would look up a form called "items" first.
        "error_items": list((errors or {}).items()),
        "typed": _Typed({k: _Typed(v) for k, v in (typed or {}).items()}),
        "end_value": (typed or {}).get("approve", {}).get("end")
        or (now + timedelta(days=min((d.max_access_days for d in datasets), default=365))).date().isoformat(),
    }


@login_required
def request_page(request, pk):
    req = _get(request, pk)
    return render(request, "access/dac/request.html", _detail_context(request, req))


def _act(request, pk, form: str, action, success: str):
    req = _get(request, pk)
    try:
        action(req)
    except ArchiveError as exc:
        typed = {key: value for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
        context = _detail_context(request, req, errors={form: exc.detail}, typed={form: typed})
        return render(
            request, "access/dac/request.html", context, status=exc.status_code if exc.status_code < 500 else 400
        )
    messages.success(request, success)
    return redirect("dac-request", pk=req.pk)


@login_required
@require_POST
def approve(request, pk):
    return _act(
        request,
        pk,
        "approve",
        lambda req: services.approve_request(
            access_request=req,
            member=request.user,
            end=request.POST.get("end") or None,
            comment=request.POST.get("comment", ""),
            request=request,
        ),
        _("Your approval was recorded."),
    )


@login_required
@require_POST
def reject(request, pk):
    return _act(
        request,
        pk,
        "reject",
        lambda req: services.reject_request(
            access_request=req, member=request.user, reason=request.POST.get("reason", ""), request=request
        ),
        _("The request was rejected."),
    )


@login_required
@require_POST
def send_back(request, pk):
    return _act(
        request,
        pk,
        "return",
        lambda req: services.return_request(
            access_request=req, member=request.user, comment=request.POST.get("comment", ""), request=request
        ),
        _("The request was returned to the applicant with your question."),
    )


@login_required
@require_POST
def remark(request, pk):
    return _act(
        request,
        pk,
        "remark",
        lambda req: services.add_remark(
            access_request=req, member=request.user, comment=request.POST.get("comment", ""), request=request
        ),
        _("Your remark was added. Only the committee sees it."),
    )


@login_required
@require_POST
def review(request, pk):
    return _act(
        request,
        pk,
        "review",
        lambda req: services.ask_review(
            access_request=req,
            member=request.user,
            reviewer=request.POST.get("reviewer", ""),
            comment=request.POST.get("comment", ""),
            request=request,
        ),
        _("The member was asked to review by email."),
    )


@login_required
def revoke(request, pk):
    """A confirmation page first; revoking happens only on its POST."""
    try:
        ent = selectors.get_entitlement_for(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None
    if not ent.dataset.dac.members.filter(pk=request.user.pk).exists():
        raise Http404
    error = ""
    if request.method == "POST":
        try:
            services.revoke_entitlement(
                entitlement=ent, member=request.user, reason=request.POST.get("reason", ""), request=request
            )
        except ArchiveError as exc:
            error = exc.detail
        else:
            messages.success(request, _("The entitlement was revoked."))
            return redirect("dac-request", pk=ent.access_request_id) if ent.access_request_id else redirect("dac-inbox")
    return render(
        request,
        "access/dac/revoke.html",
        {"ent": ent, "error": error, "reason": request.POST.get("reason", "")},
        status=400 if error else 200,
    )
