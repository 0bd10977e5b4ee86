"""FDP fixtures: the GDI shapes from the shared standards folder, and pyshacl against them."""

from functools import lru_cache
from pathlib import Path

import pytest
from rdflib import Graph

from tests.shared import gdi_shapes_dir


def shapes_folder() -> Path:
    folder = gdi_shapes_dir()
    if folder is None:
        pytest.skip(
            "The GDI metadata shapes are not here: set GDI_SHARED_DIR to the shared folder "
            "holding standards/gdi-metadata-shacl"
        )
    return folder


@lru_cache(maxsize=1)
def _shapes(folder: str) -> Graph:
    from gdi_archive.fdp.validation import parse_shape_files

    return parse_shape_files(sorted(Path(folder).glob("*.ttl")))


def conforms(data: Graph) -> tuple[bool, str]:
    """pyshacl against the shared shapes (parsed once per process)."""
    from pyshacl import validate

    ok, _, text = validate(data, shacl_graph=_shapes(str(shapes_folder())), inference="none", allow_warnings=True)
    return bool(ok), text
