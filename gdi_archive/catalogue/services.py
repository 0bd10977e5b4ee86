"""Stewardship: the only write path for DACs and datasets (API, admin and commands call these).

Only stewards (the `stewards` group) and superusers may change the catalogue. Decisions:
- Files go into a dataset only while it is a draft. Once released, a DAC has approved access to
  exactly that content; adding files later would widen every existing grant without a decision.
  Make a new dataset instead. Withdrawn is final: a withdrawn dataset is not released again.
- Only ready data files with an accession go in; their indexes follow them (an index has no
  accession of its own). A file may belong to several datasets.
- A DAC member is made staff so that the admin opens for them; they lose staff when they leave
  their last DAC, unless they are a steward.
"""

import re

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from gdi_archive.accounts.permissions import is_dac_member, is_operator, is_steward
from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import notifications, signals
from .duo import validate_duo
from .models import DAC, Dataset, File

MAX_ACCESS_DAYS_LIMIT = 10 * 365


def require_steward(actor) -> None:
    """Refuse anyone who is not a steward or a superuser (services are called by more than views)."""
    if not is_steward(actor):
        raise Forbidden("Only data stewards may change the catalogue.")


def _text(value, field: str, *, required: bool = False, max_length: int | None = None) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f'"{field}" must be text.')
    value = value.strip()
    if required and not value:
        raise InvalidInput(f'"{field}" is required.')
    if max_length and len(value) > max_length:
        raise InvalidInput(f'"{field}" may be at most {max_length} characters.')
    return value


def _lock_dataset(accession: str) -> Dataset:
    try:
        return Dataset.objects.select_for_update().get(accession=accession)
    except Dataset.DoesNotExist:
        raise NotFound(f"No dataset {accession}.") from None


def _dac_by_accession(accession) -> DAC:
    if not isinstance(accession, str) or not accession.strip():
        raise InvalidInput('"dac" must be the accession of a DAC.')
    try:
        return DAC.objects.get(accession=accession.strip())
    except DAC.DoesNotExist:
        raise InvalidInput(f"No DAC {accession.strip()}.") from None


def _checked_email(value) -> str:
    value = _text(value, "contact_email", max_length=254)
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise InvalidInput(f'"contact_email" is not an email address: {value}') from None
    return value


# --- DACs -------------------------------------------------------------------------------------


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
        label = _text(item.get("label") or kind, "label", max_length=200) or kind
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
    name = _text(name, "name", required=True, max_length=200)
    description = _text(description, "description")
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
    description = _text(description, "description")
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
    username = _text(username, "username", required=True)
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


# --- datasets -----------------------------------------------------------------------------------


# Steward metadata for the FAIR Data Point record (design.md 7). Only its shape is checked here;
# whether the values fit the GDI vocabularies is the FDP's release check (signals.release_checks).
METADATA_AGENTS = ("publisher", "creator", "contact_point", "hdab")
METADATA_IRI_LISTS = (
    "health_category",
    "theme",
    "legal_basis",
    "applicable_legislation",
    "conforms_to",
    "is_referenced_by",
)
METADATA_KEYS = (*METADATA_AGENTS, *METADATA_IRI_LISTS, "keywords", "type", "population_coverage")


def _iri(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f'"{field}" must hold IRIs (http or https URLs).')
    value = value.strip()
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise InvalidInput(f'"{field}": {value!r} is not an http(s) IRI.') from None
    return value


def _agent(value, field: str) -> dict:
    if not isinstance(value, dict) or set(value) - {"name", "email", "identifier"}:
        raise InvalidInput(f'"{field}" must be {{"name", "email"?, "identifier"?}}.')
    agent = {"name": _text(value.get("name"), f"{field}.name", required=True, max_length=300)}
    email = _text(value.get("email"), f"{field}.email", max_length=254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(f'"{field}.email" is not an email address: {email}') from None
        agent["email"] = email
    if value.get("identifier"):
        agent["identifier"] = _iri(value["identifier"], f"{field}.identifier")
    return agent


def clean_metadata(metadata) -> dict:
    """The steward's FDP metadata checked for shape and tidied; a key set to null is dropped
    (the node default applies again)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput('"metadata" must be an object.')
    unknown = sorted(set(metadata) - set(METADATA_KEYS))
    if unknown:
        raise InvalidInput(f'Unknown "metadata" field(s): {", ".join(unknown)}. Known: {", ".join(METADATA_KEYS)}.')
    clean = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if key == "creator" and isinstance(value, list):
            if not value:
                raise InvalidInput('"creator" needs at least one agent.')
            clean[key] = [_agent(item, key) for item in value]
        elif key in METADATA_AGENTS:
            clean[key] = _agent(value, key)
        elif key in METADATA_IRI_LISTS:
            if not isinstance(value, list):
                raise InvalidInput(f'"{key}" must be a list of IRIs.')
            clean[key] = list(dict.fromkeys(_iri(item, key) for item in value))
        elif key == "keywords":
            if not isinstance(value, list):
                raise InvalidInput('"keywords" must be a list of words.')
            clean[key] = list(dict.fromkeys(_text(item, "keywords", required=True, max_length=100) for item in value))
        elif key == "type":
            clean[key] = _iri(value, key)
        else:
            text = _text(value, key, max_length=2000)
            if text:
                clean[key] = text
    return clean


def clean_dataset_fields(*, title, description="", duo=None, terms_url="", terms_text="", max_access_days=None) -> dict:
    """The descriptive fields checked and tidied, or InvalidInput (the admin form uses it too)."""
    title = _text(title, "title", required=True, max_length=300)
    description = _text(description, "description")
    duo = validate_duo(duo)
    terms_url = _text(terms_url, "terms_url", max_length=255)
    if terms_url:
        try:
            URLValidator(schemes=["http", "https"])(terms_url)
        except ValidationError:
            raise InvalidInput(f'"terms_url" is not an http(s) URL: {terms_url}') from None
    terms_text = _text(terms_text, "terms_text")
    if max_access_days is None:
        max_access_days = Dataset._meta.get_field("max_access_days").default
    if (
        isinstance(max_access_days, bool)
        or not isinstance(max_access_days, int)
        or not 1 <= max_access_days <= MAX_ACCESS_DAYS_LIMIT
    ):
        raise InvalidInput(f'"max_access_days" must be a whole number from 1 to {MAX_ACCESS_DAYS_LIMIT}.')
    return dict(
        title=title,
        description=description,
        duo=duo,
        terms_url=terms_url,
        terms_text=terms_text,
        max_access_days=max_access_days,
    )


def create_dataset(
    *,
    actor,
    title: str,
    dac: str,
    description: str = "",
    duo=None,
    terms_url: str = "",
    terms_text: str = "",
    max_access_days: int | None = None,
    metadata=None,
    request=None,
) -> Dataset:
    """A draft dataset governed by the DAC with accession `dac`."""
    require_steward(actor)
    fields = clean_dataset_fields(
        title=title,
        description=description,
        duo=duo,
        terms_url=terms_url,
        terms_text=terms_text,
        max_access_days=max_access_days,
    )
    fields["metadata"] = clean_metadata(metadata)
    with transaction.atomic():
        governing = _dac_by_accession(dac)
        dataset = Dataset.objects.create(dac=governing, **fields)
        dataset.refresh_from_db()
        record(
            action="catalogue.dataset.created",
            actor=actor,
            target=dataset,
            request=request,
            details={"title": fields["title"], "dac": governing.accession, "duo": fields["duo"]},
        )
    return dataset


def update_dataset(
    *,
    actor,
    dataset: Dataset,
    title: str,
    description: str = "",
    duo=None,
    terms_url: str = "",
    terms_text: str = "",
    max_access_days: int | None = None,
    metadata=None,
    request=None,
) -> Dataset:
    """Change the description of a draft or released dataset (not its DAC or files).

    New terms on a released dataset get a new `terms_version`, so holders accept them again.
    `metadata` (when given) replaces the steward metadata as a whole. A released dataset must
    stay fit for release: the same `release_checks` run before the change is kept.
    """
    require_steward(actor)
    fields = clean_dataset_fields(
        title=title,
        description=description,
        duo=duo,
        terms_url=terms_url,
        terms_text=terms_text,
        max_access_days=max_access_days,
    )
    if metadata is not None:
        fields["metadata"] = clean_metadata(metadata)
    with transaction.atomic():
        dataset = _lock_dataset(dataset.accession)
        if dataset.status == Dataset.Status.WITHDRAWN:
            raise Conflict(f"{dataset.accession} is withdrawn and can no longer be changed.")
        changed = [name for name, value in fields.items() if getattr(dataset, name) != value]
        if not changed:
            return dataset
        for name in changed:
            setattr(dataset, name, fields[name])
        if dataset.status == Dataset.Status.RELEASED and {"terms_url", "terms_text"} & set(changed):
            dataset.terms_version += 1
        if dataset.status == Dataset.Status.RELEASED:
            signals.release_checks.send(sender=Dataset, dataset=dataset)
        dataset.save()
        record(
            action="catalogue.dataset.updated",
            actor=actor,
            target=dataset,
            request=request,
            details={"changed": changed, "terms_version": dataset.terms_version},
        )
        transaction.on_commit(lambda: signals.dataset_changed.send(sender=Dataset, dataset=dataset))
    return dataset


def patch_dataset(*, actor, dataset: Dataset, changes: dict, request=None) -> Dataset:
    """PATCH semantics over update_dataset: absent fields keep their value; metadata keys given
    replace those keys only (null drops one, so the node default applies again)."""
    current = {
        name: getattr(dataset, name)
        for name in ("title", "description", "duo", "terms_url", "terms_text", "max_access_days")
    }
    current.update({name: value for name, value in changes.items() if name in current})
    metadata = None
    if "metadata" in changes:
        if not isinstance(changes["metadata"], dict):
            raise InvalidInput('"metadata" must be an object.')
        metadata = {**(dataset.metadata or {}), **changes["metadata"]}
    return update_dataset(actor=actor, dataset=dataset, metadata=metadata, request=request, **current)


def find_ready_files(files) -> list[File]:
    """Ready data files for these accessions, in order; InvalidInput naming any that are not."""
    if not isinstance(files, (list, tuple)) or not all(isinstance(acc, str) for acc in files):
        raise InvalidInput('"files" must be a non-empty list of file accessions.')
    wanted = list(dict.fromkeys(acc.strip() for acc in files if acc.strip()))
    if not wanted:
        raise InvalidInput('"files" must be a non-empty list of file accessions.')
    found = {
        f.accession: f
        for f in File.objects.filter(accession__in=wanted, status=File.Status.READY, index_of__isnull=True)
    }
    missing = [acc for acc in wanted if acc not in found]
    if missing:
        raise InvalidInput(
            f"Unknown or not ready file accession(s): {', '.join(missing)}. "
            "Only data files that finished ingestion can be added (indexes follow their data file)."
        )
    return [found[acc] for acc in wanted]


def add_files_to_dataset(*, actor, dataset: Dataset, files, request=None) -> Dataset:
    """Put ready data files (by accession) into a draft dataset; all or nothing."""
    require_steward(actor)
    find_ready_files(files)  # refuse bad input before taking any lock
    with transaction.atomic():
        dataset = _lock_dataset(dataset.accession)
        if dataset.status != Dataset.Status.DRAFT:
            raise Conflict(
                f"{dataset.accession} is {dataset.status}; files can only be added to a draft dataset. "
                "Create a new dataset for more files."
            )
        present = set(dataset.files.values_list("pk", flat=True))
        new = [f for f in find_ready_files(files) if f.pk not in present]
        dataset.files.add(*new)
        dataset.save(update_fields=["updated_at"])
        record(
            action="catalogue.dataset.files_added",
            actor=actor,
            target=dataset,
            request=request,
            details={"files": [f.accession for f in new]},
        )
    return dataset


def release_dataset(*, actor, dataset: Dataset, request=None) -> Dataset:
    """Draft -> released; from now on applicants can find it and request access."""
    require_steward(actor)
    with transaction.atomic():
        dataset = _lock_dataset(dataset.accession)
        if dataset.status != Dataset.Status.DRAFT:
            raise Conflict(f"{dataset.accession} is already {dataset.status}; only a draft can be released.")
        if not dataset.files.exists():
            raise Conflict(f"{dataset.accession} has no files yet; add files before releasing it.")
        not_ready = list(dataset.files.exclude(status=File.Status.READY).values_list("accession", flat=True))
        if not_ready:
            raise Conflict(f"These files are no longer ready: {', '.join(not_ready)}.")
        signals.release_checks.send(sender=Dataset, dataset=dataset)
        dataset.status = Dataset.Status.RELEASED
        dataset.released_at = timezone.now()
        dataset.save(update_fields=["status", "released_at", "updated_at"])
        record(
            action="catalogue.dataset.released",
            actor=actor,
            target=dataset,
            request=request,
            details={"files": dataset.files.count()},
        )
        transaction.on_commit(lambda: signals.dataset_released.send(sender=Dataset, dataset=dataset))
    return dataset


def withdraw_dataset(*, actor, dataset: Dataset, reason: str = "", request=None) -> Dataset:
    """Draft or released -> withdrawn: nobody can list or download it any more. Final."""
    require_steward(actor)
    reason = _text(reason, "reason")
    with transaction.atomic():
        dataset = _lock_dataset(dataset.accession)
        if dataset.status == Dataset.Status.WITHDRAWN:
            raise Conflict(f"{dataset.accession} is already withdrawn.")
        previous = dataset.status
        dataset.status = Dataset.Status.WITHDRAWN
        dataset.save(update_fields=["status", "updated_at"])
        record(
            action="catalogue.dataset.withdrawn",
            actor=actor,
            target=dataset,
            request=request,
            details={"previous_status": previous, "reason": reason},
        )
        transaction.on_commit(lambda: signals.dataset_withdrawn.send(sender=Dataset, dataset=dataset))
    return dataset
