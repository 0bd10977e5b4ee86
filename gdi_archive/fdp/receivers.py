"""What the FDP does when the catalogue tells it something (catalogue/signals.py)."""

import logging

from django.conf import settings

from gdi_archive.catalogue.models import File
from gdi_archive.common.errors import MetadataIncomplete

from .graphs import dataset_graph
from .samples import read_sample_ids
from .validation import ShapesNotInstalled, validate_graph

log = logging.getLogger(__name__)


def check_metadata(sender, dataset, **kwargs) -> None:
    """Refuse to release (or keep released) a dataset whose FDP record fails the GDI shapes.

    Without the shapes, production refuses (503, naming FDP_SHAPES_DIR: never publish an
    unchecked record); the development default lets the release through with a warning, so
    `make run` works on a machine that has only Python."""
    try:
        report = validate_graph(dataset_graph(dataset))
    except ShapesNotInstalled:
        if settings.PRODUCTION:
            raise
        log.warning(
            "%s is published WITHOUT checking its FAIR Data Point record: the GDI metadata shapes are not "
            "installed (set FDP_SHAPES_DIR; refused in production)",
            dataset.accession,
        )
        return
    if report.conforms:
        return
    raise MetadataIncomplete(
        f"{dataset.accession} cannot be published in the FAIR Data Point until its metadata is complete: "
        + "; ".join(report.problems)
        + ".",
        properties=report.problems,
    )


def read_samples(sender, file, **kwargs) -> None:
    """Keep the sample ids of a file that just became ready; never let this break ingestion."""
    try:
        samples = read_sample_ids(file)
    except Exception:  # an unreadable header only means we cannot count its individuals
        log.warning("could not read the sample ids of file %s", file.pk, exc_info=True)
        return
    if samples is not None:
        File.objects.filter(pk=file.pk).update(samples=samples)
