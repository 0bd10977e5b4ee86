"""DACs: creating and describing them (their request form's documents), and who sits on them."""

import re

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from gdi_archive.accounts.permissions import is_dac_member, is_operator
from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict, Forbidden, InvalidInput

from .. import notifications
from ..models import DAC
from .shared import clean_text, require_steward


def _checked_email(value) -> str:
    value = clean_text(value, "contact_email", max_length=254)
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise InvalidInput(f'"contact_email" is not an email address: {value}') from None
    return value


_KIND = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def clean_required_documents(value) -> list[dict]:
    """[{"kind": slug, "label": text, "required": bool}], kinds unique; the request form shows them in order."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidInput('"required_documents" must be a list of {"kind", "label", "required"} objects.')
    cleaned, seen = [], set()
    for item in value:
        kind = item.get("kind")
        if not isinstance(kind, str) or not _KIND.match(kind.strip()):
            raise InvalidInput(f'"kind" must be a slug (lower-case letters, digits, - and _): {kind!r}.')
        kind = kind.strip()
        if kind in seen:
            raise InvalidInput(f"The document kind {kind!r} is listed twice.")
        seen.add(kind)
        label = clean_text(item.get("label") or kind, "label", max_length=200) or kind
        required = item.get("required", True)
        if not isinstance(required, bool):
            raise InvalidInput('"required" must be true or false.')
        cleaned.append({"kind": kind, "label": label, "required": required})
    if len(cleaned) > 20:
        raise InvalidInput("A DAC may list at most 20 documents.")
    return cleaned


def require_steward_or_member(actor, dac: DAC) -> None:
    """Stewards, and the DAC's own members for what the DAC decides itself (its request form)."""
    if (
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and actor.is_active
        and dac.members.filter(pk=actor.pk).exists()
    ):
        return
    require_steward(actor)


def create_dac(
    *, actor, name: str, description: str = "", contact_email: str = "", required_documents=None, request=None
) -> DAC:
    require_steward(actor)
    name = clean_text(name, "name", required=True, max_length=200)
    description = clean_text(description, "description")
    contact_email = _checked_email(contact_email)
    required_documents = clean_required_documents(required_documents)
    with transaction.atomic():
        if DAC.objects.filter(name__iexact=name).exists():
            raise Conflict(f"A DAC named {name!r} already exists.")
        try:
            with transaction.atomic():
                dac = DAC.objects.create(
                    name=name,
                    description=description,
                    contact_email=contact_email,
                    required_documents=required_documents,
                )
        except IntegrityError:
            raise Conflict(f"A DAC named {name!r} already exists.") from None
        dac.refresh_from_db()
        record(action="catalogue.dac.created", actor=actor, target=dac, request=request, details={"name": name})
    return dac


def update_dac(
    *, actor, dac: DAC, description: str = "", contact_email: str = "", required_documents=None, request=None
) -> DAC:
    """`required_documents` None leaves them as they are. A DAC's members may change only them."""
    current = DAC.objects.get(pk=dac.pk)
    if required_documents is not None and description == current.description and contact_email == current.contact_email:
        require_steward_or_member(actor, current)
    else:
        require_steward(actor)
    description = clean_text(description, "description")
    contact_email = _checked_email(contact_email)
    documents = (
        current.required_documents if required_documents is None else clean_required_documents(required_documents)
    )
    with transaction.atomic():
        dac = DAC.objects.select_for_update().get(pk=dac.pk)
        changed = [
            name
            for name, value in (
                ("description", description),
                ("contact_email", contact_email),
                ("required_documents", documents),
            )
            if getattr(dac, name) != value
        ]
        if changed:
            dac.description, dac.contact_email, dac.required_documents = description, contact_email, documents
            dac.save()
            record(
                action="catalogue.dac.updated", actor=actor, target=dac, request=request, details={"changed": changed}
            )
    return dac


def _member(username):
    username = clean_text(username, "username", required=True)
    try:
        user = get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise InvalidInput(f"No user named {username!r}.") from None
    if not user.is_active:
        raise InvalidInput(f"The account {username!r} is disabled.")
    return user


def require_operator_or_member(actor, dac: DAC) -> None:
    """Who may change who sits on a DAC: an operator, or a member of that DAC (separation of
    duties: a steward, who manages datasets, may not seat themselves and then decide requests)."""
    if is_operator(actor) or is_dac_member(actor, dac):
        return
    raise Forbidden(f"Only an operator or a member of {dac.accession} may change its members.")


def _membership_changed(*, dac: DAC, user, change: str, actor, request) -> None:
    record(
        action=f"catalogue.dac.member_{change}",
        actor=actor,
        target=dac,
        request=request,
        details={"username": user.username, "by_operator": is_operator(actor)},
    )
    notifications.on_commit_membership_changed(dac, user, change, actor)


def add_dac_member(*, actor, dac: DAC, username: str, request=None) -> DAC:
    """Make the user a member of the DAC and staff, so that the admin opens for them."""
    with transaction.atomic():
        dac = DAC.objects.select_for_update().get(pk=dac.pk)
        require_operator_or_member(actor, dac)
        user = _member(username)
        if dac.members.filter(pk=user.pk).exists():
            raise Conflict(f"{user.username} is already a member of {dac.accession}.")
        dac.members.add(user)
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        _membership_changed(dac=dac, user=user, change="added", actor=actor, request=request)
    return dac


def remove_dac_member(*, actor, dac: DAC, username: str, request=None) -> DAC:
    with transaction.atomic():
        dac = DAC.objects.select_for_update().get(pk=dac.pk)
        require_operator_or_member(actor, dac)
        user = _member(username)
        if not dac.members.filter(pk=user.pk).exists():
            raise Conflict(f"{user.username} is not a member of {dac.accession}.")
        dac.members.remove(user)
        if user.is_staff and not user.is_superuser and not user.is_steward and not user.dacs.exists():
            user.is_staff = False
            user.save(update_fields=["is_staff"])
        _membership_changed(dac=dac, user=user, change="removed", actor=actor, request=request)
    return dac
