"""Moved to `gdi_archive.keyring.archive` (below ingest, catalogue and downloads); this name stays for callers not yet moved."""

from gdi_archive.keyring.archive import *  # noqa: F403
from gdi_archive.keyring.archive import (  # noqa: F401  # noqa: F401
    archive_key_ids,
    archive_keyring,
    archive_secret_keys,
    current_key_id,
    current_public_key,
    ensure_archive_keys,
    generate_new_archive_key,
)
