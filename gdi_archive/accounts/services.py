"""The user's Crypt4GH public keys: checked when added, revoked rather than deleted (audited)."""

import base64

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict, InvalidInput, NotFound
from gdi_archive.crypt4gh.errors import InvalidKey
from gdi_archive.crypt4gh.keys import key_id, parse_public_key

from .models import PublicKey


@transaction.atomic
def add_public_key(*, user, value: str, label: str = "", request=None) -> PublicKey:
    try:
        raw = parse_public_key(value)
    except InvalidKey as exc:
        raise InvalidInput(str(exc)) from None
    label = (label or "").strip()[:100]
    fingerprint = key_id(raw)
    existing = PublicKey.objects.select_for_update().filter(user=user, fingerprint=fingerprint).first()
    if existing and existing.revoked_at is None:
        raise Conflict(_("You have already registered this key."))
    if existing:
        existing.revoked_at = None
        existing.label = label or existing.label
        existing.save()
        key = existing
    else:
        key = PublicKey.objects.create(
            user=user, label=label, key=base64.b64encode(raw).decode(), fingerprint=fingerprint
        )
    record(
        action="accounts.key.added",
        actor=user,
        target=key,
        request=request,
        details={"fingerprint": fingerprint, "label": label},
    )
    return key


@transaction.atomic
def revoke_public_key(*, user, key_pk, request=None) -> PublicKey:
    try:
        key = PublicKey.objects.select_for_update().get(pk=int(key_pk), user=user)
    except (PublicKey.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("There is no such key.")) from None
    if key.revoked_at:
        raise Conflict(_("This key is already revoked."))
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    record(
        action="accounts.key.revoked", actor=user, target=key, request=request, details={"fingerprint": key.fingerprint}
    )
    return key
