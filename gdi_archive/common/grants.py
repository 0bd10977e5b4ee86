"""The seam between the apps that list or serve data and the one that decides who may read it.

`granted_datasets(request)` answers which dataset accessions this request may read right now.
The passports app plugs its answer in at start-up (`PassportsConfig.ready`), so the catalogue
asks without importing passports, which sits above it. Until something is plugged in, nothing
is granted: deny by default.
"""

from collections.abc import Callable

_provider: Callable[[object], frozenset[str]] | None = None


def provide(provider: Callable[[object], frozenset[str]]) -> None:
    """Install the function that decides (called once, by the passports app)."""
    global _provider
    _provider = provider


def granted_datasets(request) -> frozenset[str]:
    """Accessions of the datasets this request may read right now (empty when none)."""
    return _provider(request) if _provider is not None else frozenset()
