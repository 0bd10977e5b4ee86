"""Applicant attachments (an ethics approval, ...): PDF only, size-limited, stored privately.

Files live in a folder under DATA_DIR that no URL maps to; the only way out is the
`attachment` view, which serves a file to the applicant and the members of the request's DAC.
"""

import hashlib
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict, Forbidden, InvalidInput, TooLarge

from .models import AccessRequest, Attachment, RequestEvent

MAX_ATTACHMENTS = 10


def max_bytes() -> int:
    return getattr(settings, "ACCESS_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)


def root() -> Path:
    return Path(getattr(settings, "ACCESS_ATTACHMENTS_DIR", settings.DATA_DIR / "private" / "attachments"))


def path_of(attachment: Attachment) -> Path:
    return root() / attachment.location


def _clean_name(name: str) -> str:
    name = Path(name or "attachment.pdf").name.replace("\x00", "")[:200] or "attachment.pdf"
    if not name.lower().endswith(".pdf"):
        raise InvalidInput(_("Attachments must be PDF files."))
    return name


def _clean_kind(access_request: AccessRequest, kind) -> str:
    kind = (kind or "").strip() if isinstance(kind, str) or kind is None else None
    kinds = [doc.get("kind") for doc in (access_request.dac.required_documents or [])]
    if kind is None or (kind and kind not in kinds):
        raise InvalidInput(
            _("%(kind)s is not a document %(dac)s asks for; choose one of: %(kinds)s.")
            % {"kind": kind, "dac": access_request.dac.name, "kinds": ", ".join(kinds) or "-"}
        )
    return kind


def is_pdf(upload) -> bool:
    """By content, not by name: the %PDF- header, and the %%EOF marker a PDF ends with (readers
    accept it within the last kilobyte)."""
    upload.seek(0)
    head = upload.read(5)
    upload.seek(max(0, upload.size - 1024))
    tail = upload.read(1024)
    upload.seek(0)
    return head == b"%PDF-" and b"%%EOF" in tail


def add_attachment(*, access_request: AccessRequest, applicant, upload, kind: str = "", request=None) -> Attachment:
    """Check and store `upload` (a Django UploadedFile), then record it in one transaction."""
    if access_request.applicant_id != applicant.pk:
        raise Forbidden(_("Only the applicant can add attachments."))
    if not access_request.is_editable:
        raise Conflict(_("Attachments can be added only while the request is a draft or returned."))
    if access_request.attachments.count() >= MAX_ATTACHMENTS:
        raise Conflict(_("A request can have at most %(n)d attachments.") % {"n": MAX_ATTACHMENTS})
    kind = _clean_kind(access_request, kind)
    name = _clean_name(getattr(upload, "name", ""))
    if upload.size > max_bytes():
        raise TooLarge(_("The attachment is larger than %(mb)d MB.") % {"mb": max_bytes() // (1024 * 1024)})
    if not is_pdf(upload):
        raise InvalidInput(_("This file is not a PDF."))
    location = f"{access_request.pk}/{uuid.uuid4().hex}.pdf"
    target = root() / location
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    tmp = target.with_suffix(".part")
    try:
        with open(tmp, "xb") as out:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > max_bytes():
                    raise TooLarge(_("The attachment is larger than %(mb)d MB.") % {"mb": max_bytes() // (1024 * 1024)})
                digest.update(chunk)
                out.write(chunk)
        tmp.chmod(0o600)
        tmp.replace(target)
        with transaction.atomic():
            req = AccessRequest.objects.select_for_update().get(pk=access_request.pk)
            if not req.is_editable:
                raise Conflict(_("Attachments can be added only while the request is a draft or returned."))
            attachment = Attachment.objects.create(
                access_request=req,
                kind=kind,
                name=name,
                size=size,
                sha256=digest.hexdigest(),
                location=location,
                uploaded_by=applicant,
            )
            RequestEvent.objects.create(
                access_request=req,
                kind=RequestEvent.Kind.ATTACHMENT,
                actor=applicant,
                comment=f"{kind}: {name}" if kind else name,
            )
            record(
                action="access.request.attachment_added",
                actor=applicant,
                target=req,
                request=request,
                details={"name": name, "kind": kind, "size": size, "sha256": attachment.sha256},
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise
    return attachment
