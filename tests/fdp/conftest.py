"""FDP fixtures: the GDI shapes from the shared standards folder, and pyshacl against them."""

import os
from functools import lru_cache
from pathlib import Path

import pytest
from rdflib import Graph

REPO = Path(__file__).resolve().parents[2]
SHAPES = Path("standards") / "gdi-metadata-shacl" / "Formulasation(shacl)" / "core" / "PiecesShape"


def shared_dir() -> Path | None:
    """The shared folder (design docs, standards): GDI_SHARED_DIR, <repo>/../shared, /work/shared."""
    for candidate in (os.environ.get("GDI_SHARED_DIR"), REPO.parent / "shared", "/work/shared"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def shapes_folder() -> Path:
    shared = shared_dir()
    if shared is None or not (shared / SHAPES).is_dir():
        pytest.skip(
            "The GDI metadata shapes are not here: set GDI_SHARED_DIR to the shared folder "
            "holding standards/gdi-metadata-shacl"
        )
    return shared / SHAPES


@lru_cache(maxsize=1)
def _shapes(folder: str) -> Graph:
    from gdi_archive.fdp.validation import parse_shape_files

    return parse_shape_files(sorted(Path(folder).glob("*.ttl")))


def conforms(data: Graph) -> tuple[bool, str]:
    """pyshacl against the shared shapes (parsed once per process)."""
    from pyshacl import validate

    ok, _, text = validate(data, shacl_graph=_shapes(str(shapes_folder())), inference="none", allow_warnings=True)
    return bool(ok), text
