"""A start-up warning (runserver, migrate, check) when the GDI shapes are not installed."""

from django.conf import settings
from django.core.checks import Warning


def shapes_installed(app_configs, **kwargs) -> list:
    if settings.FDP_SHAPES_DIR:
        return []
    return [
        Warning(
            "The GDI metadata SHACL shapes are not installed: releases are NOT validated for the FAIR "
            "Data Point and /fdp/dataset/{accession}/valid answers 503 (production refuses to start).",
            hint="Set FDP_SHAPES_DIR to the Formulasation(shacl)/core/PiecesShape folder of "
            "GenomicDataInfrastructure/gdi-metadata (or GDI_SHARED_DIR to the shared standards folder).",
            id="fdp.W001",
        )
    ]
