"""Emails go out on commit through Celery, in the reader's language; beat jobs expire and remind."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gdi_archive.access import services, tasks
from gdi_archive.access.models import Entitlement
from gdi_archive.audit.models import AuditEvent

from .factories import released_dataset


def submitted(applicant, dataset, language="en"):
    req = services.create_request(
        applicant=applicant,
        datasets=[dataset.accession],
        title="Burden test",
        purpose="Find variants.",
        accept_terms=True,
        language=language,
    )
    return services.submit_request(access_request=req, applicant=applicant)


@pytest.mark.django_db
def test_no_mail_when_the_change_rolls_back(applicant, dac, dac_member, mailoutbox, django_capture_on_commit_callbacks):
    from django.db import transaction

    dataset = released_dataset(dac)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                submitted(applicant, dataset)
                raise RuntimeError("the page failed after the service")
    assert callbacks == [] and mailoutbox == []


@pytest.mark.django_db
def test_dac_is_told_of_a_submission(applicant, dac, dac_member, mailoutbox, django_capture_on_commit_callbacks):
    dataset = released_dataset(dac)
    with django_capture_on_commit_callbacks(execute=True):
        req = submitted(applicant, dataset)
    [mail] = mailoutbox
    assert set(mail.to) == {"dac@example.org", "carol@example.org"}
    assert "Burden test" in mail.subject and f"/dac/requests/{req.pk}" in mail.body


@pytest.mark.django_db
def test_applicant_is_told_in_estonian(applicant, dac, dac_member, mailoutbox, django_capture_on_commit_callbacks):
    dataset = released_dataset(dac)
    req = submitted(applicant, dataset, language="et")
    with django_capture_on_commit_callbacks(execute=True):
        services.return_request(access_request=req, member=dac_member, comment="Lisa eetikakomitee luba.")
    mail = mailoutbox[-1]
    assert mail.to == ["alice@example.org"]
    assert "vajab muudatusi" in mail.subject  # "needs changes"
    assert "Lisa eetikakomitee luba." in mail.body


@pytest.mark.django_db
def test_expiry_and_reminders(applicant, dac, dac_member, mailoutbox):
    dataset = released_dataset(dac)
    services.approve_request(access_request=submitted(applicant, dataset), member=dac_member)
    ent = Entitlement.objects.get()
    Entitlement.objects.filter(pk=ent.pk).update(end=timezone.now() + timedelta(days=3))
    assert tasks.send_expiry_reminders.delay().get() == 1
    assert "ends soon" in mailoutbox[-1].subject
    assert tasks.send_expiry_reminders.delay().get() == 0  # told once
    assert tasks.expire_entitlements.delay().get() == 0
    Entitlement.objects.filter(pk=ent.pk).update(end=timezone.now() - timedelta(seconds=1))
    assert tasks.expire_entitlements.delay().get() == 1
    ent.refresh_from_db()
    assert ent.status == "expired" and not Entitlement.objects.live().exists()
    assert AuditEvent.objects.filter(action="access.entitlement.expired", target_id=str(ent.pk)).exists()
    assert tasks.expire_entitlements.delay().get() == 0


def test_beat_schedule_names_real_tasks(settings):
    from gdi_archive.celery import app

    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"gdi_archive.access.tasks.expire_entitlements", "gdi_archive.access.tasks.send_expiry_reminders"} <= names
    assert "gdi_archive.access.tasks.expire_entitlements" in app.tasks


@pytest.mark.worker
def test_a_real_worker_sends_the_submission_email(
    transactional_db, monkeypatch, tmp_path, applicant, dac, dac_member, request
):
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    monkeypatch.setenv("EMAIL_FILE_PATH", str(tmp_path / "mail"))
    worker = request.getfixturevalue("celery_worker_process")
    import time

    submitted(applicant, released_dataset(dac))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list((tmp_path / "mail").glob("*")):
        time.sleep(0.2)
    files = list((tmp_path / "mail").glob("*"))
    assert files, worker.log()[-3000:]
    text = files[0].read_text()
    assert "carol@example.org" in text and "Burden test" in text
