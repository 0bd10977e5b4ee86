"""Thin Celery tasks (default queue): emails, and the beat jobs that expire and remind."""

from celery import shared_task

from . import notifications, services
from .models import AccessRequest, Entitlement, RequestMember

RETRY = dict(autoretry_for=(OSError,), retry_backoff=30, retry_kwargs={"max_retries": 5})


@shared_task(**RETRY)
def notify_dac_of_submission(request_id: int) -> int:
    req = AccessRequest.objects.select_related("dac", "applicant").filter(pk=request_id).first()
    return notifications.send_submission(req) if req else 0


@shared_task(**RETRY)
def notify_applicant_of_decision(request_id: int, status: str) -> int:
    req = AccessRequest.objects.select_related("dac", "applicant").filter(pk=request_id).first()
    return notifications.send_decision(req, status) if req else 0


@shared_task(**RETRY)
def notify_holder_of_revocation(entitlement_id: int) -> int:
    ent = Entitlement.objects.select_related("dataset", "user", "access_request").filter(pk=entitlement_id).first()
    return notifications.send_revocation(ent) if ent else 0


@shared_task(**RETRY)
def notify_invitee(member_id: int, token: str) -> int:
    member = (
        RequestMember.objects.select_related("access_request__dac", "access_request__applicant")
        .filter(pk=member_id)
        .first()
    )
    return notifications.send_invitation(member, token) if member else 0


@shared_task(**RETRY)
def notify_member_change(member_id: int) -> int:
    member = RequestMember.objects.select_related("access_request__applicant", "user").filter(pk=member_id).first()
    return notifications.send_member_change(member) if member else 0


@shared_task(**RETRY)
def notify_reviewer(request_id: int, reviewer_id: int, by_id: int, comment: str = "") -> int:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk([reviewer_id, by_id])
    req = AccessRequest.objects.select_related("dac").filter(pk=request_id).first()
    if not req or reviewer_id not in users or by_id not in users:
        return 0
    return notifications.send_review_request(req, users[reviewer_id], users[by_id], comment)


@shared_task
def expire_entitlements() -> int:
    return services.expire_entitlements()


@shared_task
def send_expiry_reminders(days: int = 14) -> int:
    """Tell holders whose entitlement ends within `days`; each is told once."""
    sent = 0
    for ent in services.entitlements_to_remind(days=days).select_related("dataset", "user", "access_request"):
        if services.mark_reminded(entitlement_id=ent.pk):
            sent += notifications.send_expiry_reminder(ent)
    return sent
