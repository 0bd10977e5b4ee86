"""Released datasets for access tests (built through the models: the catalogue API is not under test here)."""

from django.utils import timezone


def released_dataset(dac, title="Rare disease exomes", duo=("DUO:0000042",), max_access_days=365, terms_version=1):
    from gdi_archive.catalogue.models import Dataset

    return Dataset.objects.create(
        title=title,
        dac=dac,
        duo=list(duo),
        terms_text="Do not try to identify participants.",
        terms_version=terms_version,
        max_access_days=max_access_days,
        status=Dataset.Status.RELEASED,
        released_at=timezone.now(),
    )


def request_body(*datasets, **extra):
    body = {
        "datasets": [d.accession for d in datasets],
        "title": "Variant burden in rare disease",
        "purpose": "Find causal variants.",
        "institution": "University of Tartu",
        "duo": ["DUO:0000042"],
        "accept_terms": True,
    }
    body.update(extra)
    return body
