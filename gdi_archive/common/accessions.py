"""Accessions: `<PREFIX><kind>` + 11 digits (design.md section 5), from the row's primary key."""

from django.conf import settings

DATASET, FILE, DAC = "D", "F", "C"


def make_accession(kind: str, number: int) -> str:
    return f"{settings.ACCESSION_PREFIX}{kind}{number:011d}"
