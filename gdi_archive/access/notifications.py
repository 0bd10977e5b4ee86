"""Emails about requests and entitlements: queued on commit, written in the reader's language.

Services call `on_commit_*`, which queue the Celery tasks in `tasks.py` by name (through the one
`enqueue` seam, so this module never imports them); the tasks call `send_*` with ids, so a rolled
back change never sends mail and the web request never waits for SMTP.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from gdi_archive.common.tasks import enqueue

_TASKS = "gdi_archive.access.tasks."


def on_commit_submitted(req):
    enqueue(_TASKS + "notify_dac_of_submission", req.pk)


def on_commit_decided(req):
    enqueue(_TASKS + "notify_applicant_of_decision", req.pk, req.status)


def on_commit_revoked(entitlement):
    enqueue(_TASKS + "notify_holder_of_revocation", entitlement.pk)


def on_commit_invited(member, token: str):
    enqueue(_TASKS + "notify_invitee", member.pk, token)


def on_commit_member_joined(member):
    enqueue(_TASKS + "notify_member_change", member.pk)


def on_commit_member_removed(member):
    enqueue(_TASKS + "notify_member_change", member.pk)


def on_commit_review_asked(req, reviewer, by, comment: str):
    enqueue(_TASKS + "notify_reviewer", req.pk, reviewer.pk, by.pk, comment)


def _send(*, template: str, context: dict, recipients: list[str], language: str) -> int:
    recipients = [address for address in recipients if address]
    if not recipients:
        return 0
    with translation.override(language or settings.LANGUAGE_CODE):
        context = {**context, "base_url": settings.BASE_URL}
        subject = " ".join(render_to_string(f"access/email/{template}_subject.txt", context).split())
        body = render_to_string(f"access/email/{template}.txt", context)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def send_submission(req) -> int:
    """To the DAC: its contact address and every member."""
    recipients = [req.dac.contact_email, *req.dac.members.filter(is_active=True).values_list("email", flat=True)]
    return _send(
        template="submitted",
        context={"req": req, "datasets": list(req.datasets.all())},
        recipients=list(dict.fromkeys(recipients)),
        language=settings.LANGUAGE_CODE,
    )


def send_decision(req, status: str) -> int:
    """To the applicant and every co-applicant who joined."""
    last = req.events.filter(kind=status).order_by("-at", "-id").first()
    joined = req.members.filter(status="accepted").values_list("user__email", flat=True)
    return _send(
        template="decided",
        context={
            "req": req,
            "status": status,
            "event": last,
            "entitlements": list(req.entitlements.filter(user=req.applicant).select_related("dataset")),
        },
        recipients=list(dict.fromkeys([req.applicant.email, *joined])),
        language=req.language,
    )


def send_invitation(member, token: str) -> int:
    """The only place the token goes: the invitee's address."""
    req = member.access_request
    return _send(
        template="invited", context={"req": req, "token": token}, recipients=[member.email], language=req.language
    )


def send_member_change(member) -> int:
    """Joined: tell the applicant. Removed: tell the person removed."""
    req = member.access_request
    if member.status == "accepted":
        return _send(
            template="member_joined",
            context={"req": req, "member": member},
            recipients=[req.applicant.email],
            language=req.language,
        )
    if member.status == "removed":
        return _send(
            template="member_removed",
            context={"req": req, "member": member},
            recipients=[member.email],
            language=req.language,
        )
    return 0


def send_review_request(req, reviewer, by, comment: str) -> int:
    return _send(
        template="review_asked",
        context={"req": req, "by": by, "comment": comment},
        recipients=[reviewer.email],
        language=settings.LANGUAGE_CODE,
    )


def send_revocation(entitlement) -> int:
    language = getattr(entitlement.access_request, "language", None) or settings.LANGUAGE_CODE
    return _send(
        template="revoked", context={"ent": entitlement}, recipients=[entitlement.user.email], language=language
    )


def send_expiry_reminder(entitlement) -> int:
    language = getattr(entitlement.access_request, "language", None) or settings.LANGUAGE_CODE
    return _send(
        template="expiring", context={"ent": entitlement}, recipients=[entitlement.user.email], language=language
    )
