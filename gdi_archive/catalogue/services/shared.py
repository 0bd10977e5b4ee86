"""What several areas of stewardship do the same way: refuse non-stewards, tidy free text, lock
a dataset row."""

from gdi_archive.accounts.permissions import is_steward
from gdi_archive.common.errors import Forbidden, InvalidInput, NotFound

from ..models import Dataset


def require_steward(actor) -> None:
    """Refuse anyone who is not a steward or a superuser (services are called by more than views)."""
    if not is_steward(actor):
        raise Forbidden("Only data stewards may change the catalogue.")


def clean_text(value, field: str, *, required: bool = False, max_length: int | None = None) -> str:
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


def lock_dataset(accession: str) -> Dataset:
    try:
        return Dataset.objects.select_for_update().get(accession=accession)
    except Dataset.DoesNotExist:
        raise NotFound(f"No dataset {accession}.") from None
