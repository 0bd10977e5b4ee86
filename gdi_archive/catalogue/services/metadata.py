"""The steward's FAIR Data Point metadata of a dataset, checked for shape (datasets store it)."""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from gdi_archive.common.errors import InvalidInput

from .shared import clean_text

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
    agent = {"name": clean_text(value.get("name"), f"{field}.name", required=True, max_length=300)}
    email = clean_text(value.get("email"), f"{field}.email", max_length=254)
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
            clean[key] = list(
                dict.fromkeys(clean_text(item, "keywords", required=True, max_length=100) for item in value)
            )
        elif key == "type":
            clean[key] = _iri(value, key)
        else:
            text = clean_text(value, key, max_length=2000)
            if text:
                clean[key] = text
    return clean
