"""Where the shared reference folder (design docs, standards) is for the tests: no Django here,
so tests/settings.py and the stack tests can use it before any setup."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GDI_SHAPES = Path("standards") / "gdi-metadata-shacl" / "Formulasation(shacl)" / "core" / "PiecesShape"


def gdi_shapes_dir() -> Path | None:
    """The GDI metadata shapes: $GDI_SHARED_DIR, <repo>/../shared or /work/shared (a worktree's
    parent is not the project's); None when none of them has the shapes."""
    for candidate in (os.environ.get("GDI_SHARED_DIR"), REPO.parent / "shared", "/work/shared"):
        if candidate and any((Path(candidate) / GDI_SHAPES).glob("*.ttl")):
            return Path(candidate) / GDI_SHAPES
    return None
