"""Fetch and authorise in one call: missing and not-yours give the same NotFound."""

from django.utils.translation import gettext as _

from gdi_archive.common.errors import NotFound

from .models import AccessRequest, Attachment, Entitlement


def get_request_for(*, user, pk) -> AccessRequest:
    try:
        return AccessRequest.objects.visible_to(user).select_related("dac", "applicant").get(pk=int(pk))
    except (AccessRequest.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("There is no such access request.")) from None


def get_entitlement_for(*, user, pk) -> Entitlement:
    try:
        return Entitlement.objects.visible_to(user).select_related("dataset__dac", "user").get(pk=int(pk))
    except (Entitlement.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("There is no such entitlement.")) from None


def get_attachment_for(*, user, request_pk, pk) -> Attachment:
    req = get_request_for(user=user, pk=request_pk)
    joined = req.members.filter(user=user, status="accepted").exists()
    if not (req.applicant_id == user.pk or joined or req.dac.members.filter(pk=user.pk).exists() or user.is_superuser):
        raise NotFound(_("There is no such attachment."))
    try:
        return req.attachments.get(pk=int(pk))
    except (Attachment.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("There is no such attachment.")) from None
