"""An entitlement after the decision: revoked by the DAC, expired by beat, reminded before its end."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gdi_archive.accounts.permissions import is_dac_member
from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict, Forbidden

from .. import notifications
from ..models import Entitlement
from .shared import clean_text, on_commit_withdrawn


@transaction.atomic
def revoke_entitlement(*, entitlement: Entitlement, member, reason: str = "", request=None) -> Entitlement:
    ent = Entitlement.objects.select_for_update().select_related("dataset__dac", "user").get(pk=entitlement.pk)
    if not is_dac_member(member, ent.dataset.dac):
        raise Forbidden(_("Only members of the dataset's DAC can revoke this entitlement."))
    if ent.status != Entitlement.Status.ACTIVE:
        raise Conflict(_("This entitlement is already %(status)s.") % {"status": ent.status})
    reason = clean_text(reason, _("The reason"), required=False, max_length=20000)
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
    on_commit_withdrawn(
        user=ent.user,
        datasets=[ent.dataset.accession],
        reason=_("Access was revoked by the DAC: %(reason)s") % {"reason": reason or _("no reason given")},
    )
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
            record(
                action="access.entitlement.expired",
                actor=None,
                target=ent,
                details={"user": ent.user.get_username(), "dataset": ent.dataset.accession, "end": ent.end.isoformat()},
            )
            on_commit_withdrawn(user=ent.user, datasets=[ent.dataset.accession], reason=_("The access period ended."))
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
