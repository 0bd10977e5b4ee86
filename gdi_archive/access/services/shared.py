"""What every step of the life cycle does the same way: lock the request, write its timeline,
clean free text, tell the apps above that access was withdrawn."""

from django.db import transaction
from django.utils.translation import gettext as _

from gdi_archive.common.errors import InvalidInput

from ..models import AccessRequest, Entitlement, RequestEvent

S = AccessRequest.Status


def locked(access_request: AccessRequest) -> AccessRequest:
    """Re-read the row under a lock so two decisions at once see each other."""
    return AccessRequest.objects.select_for_update().select_related("dac").get(pk=access_request.pk)


def timeline_event(req, kind, actor, comment=""):
    return RequestEvent.objects.create(access_request=req, kind=kind, actor=actor, comment=comment)


def clean_text(value, field: str, *, required: bool, max_length: int | None = None) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise InvalidInput(_("%(field)s must be text.") % {"field": field})
    if required and not text:
        raise InvalidInput(_("%(field)s is required.") % {"field": field})
    if max_length and len(text) > max_length:
        raise InvalidInput(_("%(field)s is too long (at most %(n)d characters).") % {"field": field, "n": max_length})
    return text


def on_commit_withdrawn(*, user, datasets: list[str], reason: str, keys=()) -> None:
    """Tell the apps above (downloads) after commit that `user` (or the external identities
    `keys`, `selectors.identity_key`) lost access to `datasets`."""
    from ..signals import access_withdrawn

    transaction.on_commit(
        lambda: access_withdrawn.send(
            sender=Entitlement, user=user, datasets=list(datasets), reason=reason, keys=list(keys)
        )
    )
