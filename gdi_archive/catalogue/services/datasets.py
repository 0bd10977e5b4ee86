"""Datasets: creating one as a draft and changing its description, terms and metadata."""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict, InvalidInput

from .. import signals
from ..duo import validate_duo
from ..models import DAC, Dataset
from .metadata import clean_metadata
from .shared import clean_text, lock_dataset, require_steward

MAX_ACCESS_DAYS_LIMIT = 10 * 365


def _dac_by_accession(accession) -> DAC:
    if not isinstance(accession, str) or not accession.strip():
        raise InvalidInput('"dac" must be the accession of a DAC.')
    try:
        return DAC.objects.get(accession=accession.strip())
    except DAC.DoesNotExist:
        raise InvalidInput(f"No DAC {accession.strip()}.") from None


def clean_dataset_fields(*, title, description="", duo=None, terms_url="", terms_text="", max_access_days=None) -> dict:
    """The descriptive fields checked and tidied, or InvalidInput (the admin form uses it too)."""
    title = clean_text(title, "title", required=True, max_length=300)
    description = clean_text(description, "description")
    duo = validate_duo(duo)
    terms_url = clean_text(terms_url, "terms_url", max_length=255)
    if terms_url:
        try:
            URLValidator(schemes=["http", "https"])(terms_url)
        except ValidationError:
            raise InvalidInput(f'"terms_url" is not an http(s) URL: {terms_url}') from None
    terms_text = clean_text(terms_text, "terms_text")
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
        dataset = lock_dataset(dataset.accession)
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
