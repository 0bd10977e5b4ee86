"""Key rotation: re-encrypt every stored header to the current archive key.

Bodies are untouched (a header holds the data key; the segments do not change). One file per
transaction, and only files whose header is not yet under the current key, so the rotation
can be stopped at any point and run again.
"""

import logging
from collections.abc import Callable

from django.db import transaction

from gdi_archive.audit.services import record
from gdi_archive.catalogue.models import File
from gdi_archive.crypt4gh.errors import Crypt4GHError
from gdi_archive.crypt4gh.header import reencrypt_header
from gdi_archive.crypt4gh.keys import public_from_secret
from gdi_archive.keyring.archive import archive_keyring, current_key_id

log = logging.getLogger(__name__)


def headers_to_rekey():
    return File.objects.exclude(header=None).exclude(archive_key_id=current_key_id()).order_by("id")


def rekey_header(*, file_id: int, actor) -> bool:
    """Re-encrypt one file's header to the current key; False if there was nothing to do."""
    keyring = archive_keyring()  # one look at the keys: the id and the key we seal for must match
    current_sk, target = keyring[0]
    with transaction.atomic():
        file = File.objects.select_for_update().filter(pk=file_id).first()
        if file is None or file.header is None or file.archive_key_id == target:
            return False
        new_header = reencrypt_header(bytes(file.header), [sk for sk, _ in keyring], public_from_secret(current_sk))
        previous = file.archive_key_id
        File.objects.filter(pk=file.pk).update(header=new_header, archive_key_id=target)
        record(
            action="ingest.header.rekeyed", actor=actor, target=file, details={"from_key": previous, "to_key": target}
        )
    return True


def rotate_headers(*, actor, on_file: Callable[[File, int, int], None] | None = None) -> dict:
    """Re-encrypt every header not under the current key. Returns counts."""
    ids = list(headers_to_rekey().values_list("id", flat=True))
    done = failed = 0
    for number, file_id in enumerate(ids, start=1):
        try:
            changed = rekey_header(file_id=file_id, actor=actor)
        except Crypt4GHError as exc:  # a header no archive key opens: leave it, say so
            failed += 1
            log.error("file %s: header could not be re-encrypted: %s", file_id, exc)
            changed = False
        done += changed
        if on_file:
            on_file(File.objects.get(pk=file_id), number, len(ids))
    return {"candidates": len(ids), "rekeyed": done, "failed": failed, "current_key_id": current_key_id()}
