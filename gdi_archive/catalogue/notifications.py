"""Emails about a DAC's membership: every change is told to the DAC's members (and to the person
removed), so that a seat taken or given away never goes unnoticed. Queued on commit through the
one `enqueue` seam; the task in `tasks.py` sends."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from gdi_archive.common.tasks import enqueue

from .models import DAC


def on_commit_membership_changed(dac, user, change: str, actor) -> None:
    actor_name = actor.get_username() if getattr(actor, "pk", None) else str(actor or "")
    enqueue("gdi_archive.catalogue.tasks.notify_dac_of_membership_change", dac.pk, user.pk, change, actor_name)


def send_membership_change(dac_id: int, user_id: int, change: str, actor_name: str) -> int:
    dac = DAC.objects.filter(pk=dac_id).first()
    person = get_user_model().objects.filter(pk=user_id).first()
    if dac is None or person is None:
        return 0
    recipients = list(dac.members.filter(is_active=True).values_list("email", flat=True))
    if change == "removed":
        recipients.append(person.email)
    recipients = list(dict.fromkeys(address for address in recipients if address))
    if not recipients:
        return 0
    context = {"dac": dac, "person": person, "change": change, "actor": actor_name, "base_url": settings.BASE_URL}
    with translation.override(settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("catalogue/email/membership_subject.txt", context).split())
        body = render_to_string("catalogue/email/membership.txt", context)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
