"""DAC blocks (design.md 7, "Trust, scoped"): a person or an external identity shut out of every
dataset of a DAC at once."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gdi_archive.accounts.models import ExternalIdentity
from gdi_archive.accounts.permissions import is_dac_member
from gdi_archive.audit.services import record
from gdi_archive.common.errors import Forbidden, InvalidInput, NotFound

from .. import selectors
from ..models import DACBlock
from .shared import clean_text, on_commit_withdrawn


def check_blocker(dac, actor) -> None:
    if not (actor is not None and actor.is_active and (actor.is_superuser or is_dac_member(actor, dac))):
        raise Forbidden(_("Only members of this DAC and operators may block or lift a block."))


def blocks_for(*, dac, actor):
    """The DAC's standing blocks, for its members and operators."""
    check_blocker(dac, actor)
    return selectors.blocks_of(dac)


@transaction.atomic
def block_person(
    *, dac, actor, reason: str, username: str = "", iss: str = "", sub: str = "", request=None
) -> DACBlock:
    """Block a local user or an external identity (iss, sub) for every dataset of `dac`, at once.

    Our own issuer with a subject is the local user of that name. The person's export copies of
    the DAC's datasets are removed after commit.
    """
    check_blocker(dac, actor)
    reason = clean_text(reason, _("The reason"), required=True, max_length=20000)
    iss = (iss or "").strip().rstrip("/")
    sub = (sub or "").strip()
    username = (username or "").strip()
    if bool(username) == bool(iss or sub):
        raise InvalidInput(_('Give either "user" (a username) or both "iss" and "sub".'))
    if not username and not (iss and sub):
        raise InvalidInput(_('Give both "iss" and "sub" for an external identity.'))
    if iss and iss == settings.BASE_URL.rstrip("/"):
        username, iss, sub = sub, "", ""
    user = None
    if username:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise InvalidInput(_("There is no user %(name)s.") % {"name": username})
    block = DACBlock.objects.create(dac=dac, user=user, issuer=iss, subject=sub, reason=reason, created_by=actor)
    record(
        action="access.dac.blocked",
        actor=actor,
        target=block,
        request=request,
        details={"dac": dac.accession, "user": username, "iss": iss, "sub": sub, "reason": reason},
    )
    affected = [user] if user is not None else [link.user for link in _external_identities(iss=iss, sub=sub)]
    datasets = list(dac.datasets.values_list("accession", flat=True))
    why = _("The DAC blocked access: %(reason)s") % {"reason": reason}
    for person in affected:
        on_commit_withdrawn(user=person, datasets=datasets, reason=why)
    # Exports made through a token that named this identity (or one linked to this user), whoever asked.
    if iss:
        keys = [selectors.identity_key(iss, sub)]
    else:
        keys = [selectors.identity_key(e.issuer, e.subject) for e in user.external_identities.all()]
    if keys:
        on_commit_withdrawn(user=None, datasets=datasets, reason=why, keys=keys)
    return block


def _external_identities(*, iss: str, sub: str):
    return ExternalIdentity.objects.select_related("user").filter(issuer=iss, subject=sub)


@transaction.atomic
def lift_block(*, block: DACBlock, actor, request=None) -> DACBlock:
    block = DACBlock.objects.select_for_update(of=("self",)).select_related("dac", "user").get(pk=block.pk)
    check_blocker(block.dac, actor)
    if block.lifted_at is not None:
        raise NotFound(_("There is no such block."))
    block.lifted_at = timezone.now()
    block.lifted_by = actor
    block.save(update_fields=["lifted_at", "lifted_by"])
    record(
        action="access.dac.block_lifted",
        actor=actor,
        target=block,
        request=request,
        details={
            "dac": block.dac.accession,
            "user": block.user.get_username() if block.user_id else "",
            "iss": block.issuer,
            "sub": block.subject,
        },
    )
    return block
