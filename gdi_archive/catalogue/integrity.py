"""Checking that what the archive holds is what the catalogue says it holds.

For every ready file (indexes included): the stored body exists, has `stored_size` bytes and
the sha-256 `stored_sha256`; the header in the database opens with an archive key (the one
`archive_key_id` names); and, unless `quick`, every segment decrypts (MACs checked) to a
plaintext of `plaintext_size` bytes with the recorded sha-256 and md5. Bodies are streamed in
whole-segment chunks, so memory stays flat whatever the file size.

Read-only: nothing here changes a row or an object; `manage.py archive_verify` is the shell.
"""

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from gdi_archive.crypt4gh.errors import Crypt4GHError, NotForOurKey, SegmentAuthenticationError, TruncatedFile
from gdi_archive.crypt4gh.header import open_header
from gdi_archive.crypt4gh.segments import CIPHER_SEGMENT_SIZE, decrypt_segments
from gdi_archive.storage import ObjectNotFound, StorageError, archive_store

from .models import File

READ_CHUNK = 64 * CIPHER_SEGMENT_SIZE  # about 4 MiB of whole segments


@dataclass(frozen=True)
class Problem:
    file: str  # how a person finds the file: accession, or the index's name
    kind: str  # a short stable code, e.g. "body-sha256-mismatch"
    detail: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind}: {self.detail}"


@dataclass
class Report:
    files: int = 0
    checked: int = 0
    bytes_read: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def failed_files(self) -> int:
        return len({p.file for p in self.problems})


def label(file: File) -> str:
    if file.accession:
        return file.accession
    if file.index_of_id and file.index_of and file.index_of.accession:
        return f"{file.name} (index of {file.index_of.accession})"
    return f"{file.name} (file #{file.pk})"


def archived_files(accessions: Iterable[str] | None = None):
    """Every ready file, indexes included, in a stable order."""
    files = File.objects.filter(status=File.Status.READY).select_related("index_of").order_by("id")
    if accessions:
        files = files.filter(accession__in=list(accessions))
    return files


def _missing_record(file: File) -> list[str]:
    needed = {
        "location": file.location,
        "header": file.header,
        "stored_sha256": file.stored_sha256,
        "sha256": file.sha256,
        "md5": file.md5,
    }
    missing = [name for name, value in needed.items() if not value]
    missing += [name for name in ("stored_size", "plaintext_size") if getattr(file, name) is None]
    return missing


def _hashing(chunks: Iterator[bytes], digest, counter: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        counter[0] += len(chunk)
        yield chunk


def verify_file(
    file: File,
    *,
    secret_keys: list[bytes],
    key_ids: list[str],
    quick: bool = False,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[list[Problem], int]:
    """The problems found with one archived file, and how many body bytes were read.

    Four steps, each adding what it finds to `found`: the catalogue row is complete, the stored
    header opens, the object has the recorded size, and the body (and, unless `quick`, its
    plaintext) hashes to what the catalogue says.
    """
    found = _Findings(label(file))
    if not _record_complete(file, found):
        return found.problems, 0
    session_keys = _open_stored_header(file, secret_keys, key_ids, found) if file.header else None
    store = archive_store()
    if not _stored_size_matches(store, file, found):
        return found.problems, 0
    digests = _read_body(store, file, None if quick else session_keys, on_bytes, found)
    if digests.complete:
        _compare_digests(file, digests, found)
    return found.problems, digests.bytes_read


class _Findings:
    """The problems found so far with one file."""

    def __init__(self, name: str):
        self.name = name
        self.problems: list[Problem] = []

    def __call__(self, kind: str, detail: str) -> None:
        self.problems.append(Problem(self.name, kind, detail))


def _record_complete(file: File, problem: _Findings) -> bool:
    """Report the fields the row lacks; False when there is no location to read from."""
    missing = _missing_record(file)
    if missing:
        problem("incomplete-record", "the catalogue row lacks " + ", ".join(missing))
    return "location" not in missing


def _open_stored_header(file: File, secret_keys: list[bytes], key_ids: list[str], problem: _Findings):
    """The header's session keys, or None when no archive key opens it."""
    try:
        opened = open_header(bytes(file.header), secret_keys)
    except NotForOurKey:
        problem("header-unreadable", "no archive key opens the stored header")
        return None
    except Crypt4GHError as exc:
        problem("header-unreadable", f"the stored header is damaged: {exc}")
        return None
    opened_by = key_ids[opened.key_index]
    if file.archive_key_id and file.archive_key_id != opened_by:
        problem(
            "header-key-mismatch",
            f"the header opens with archive key {opened_by}, but the catalogue says {file.archive_key_id}",
        )
    if opened.edit_list is not None:
        problem("header-edit-list", "the stored header carries an edit list; archived headers never should")
    return opened.session_keys


def _stored_size_matches(store, file: File, problem: _Findings) -> bool:
    """Report a size different from the catalogue's; False when the object cannot be found."""
    try:
        size = store.size(file.location)
    except ObjectNotFound:
        problem("missing-object", f"there is no object {file.location!r} in the archive store")
        return False
    except StorageError as exc:
        problem("storage-error", f"the archive store did not answer for {file.location!r}: {exc}")
        return False
    if file.stored_size is not None and size != file.stored_size:
        problem("size-mismatch", f"the stored body has {size} bytes, the catalogue says {file.stored_size}")
    return True


@dataclass
class _Digests:
    body_sha256: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    plain_sha256: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    plain_md5: "hashlib._Hash" = field(default_factory=hashlib.md5)
    plain_size: int = 0
    decrypted: bool = False  # every segment decrypted and authenticated
    complete: bool = True  # the whole body was read
    bytes_read: int = 0


def _read_body(store, file: File, session_keys, on_bytes, problem: _Findings) -> _Digests:
    """Stream the body once: hash it and, given session keys, decrypt and hash the plaintext."""
    digests = _Digests()
    read = [0]
    try:
        body = _hashing(store.iter_range(file.location, 0, None, chunk_size=READ_CHUNK), digests.body_sha256, read)
        if on_bytes:
            body = _reporting(body, on_bytes)
        if session_keys is not None:
            digests.decrypted = _decrypt_body(body, session_keys, digests, problem)
        for _ in body:  # quick mode, or finish hashing after a decryption failure
            pass
    except StorageError as exc:
        problem("storage-error", f"reading {file.location!r} failed after {read[0]} bytes: {exc}")
        digests.complete = False
    digests.bytes_read = read[0]
    return digests


def _decrypt_body(body: Iterator[bytes], session_keys, digests: _Digests, problem: _Findings) -> bool:
    """Decrypt every segment into the plaintext digests; False (and a problem) if one fails."""
    try:
        for plain in decrypt_segments(body, session_keys):
            digests.plain_sha256.update(plain)
            digests.plain_md5.update(plain)
            digests.plain_size += len(plain)
    except SegmentAuthenticationError as exc:
        problem("segment-authentication", f"segment {exc.segment_index} fails authentication")
        return False
    except TruncatedFile as exc:
        problem("truncated-body", str(exc))
        return False
    return True


def _compare_digests(file: File, digests: _Digests, problem: _Findings) -> None:
    """Report every digest and size that differs from the catalogue's."""
    body_sha = digests.body_sha256.hexdigest()
    if file.stored_sha256 and body_sha != file.stored_sha256:
        problem(
            "body-sha256-mismatch",
            f"the stored body hashes to {body_sha}, the catalogue says {file.stored_sha256}",
        )
    if not digests.decrypted:
        return
    if file.plaintext_size is not None and digests.plain_size != file.plaintext_size:
        problem(
            "plaintext-size-mismatch",
            f"the body decrypts to {digests.plain_size} bytes, the catalogue says {file.plaintext_size}",
        )
    plain_sha, plain_md5 = digests.plain_sha256.hexdigest(), digests.plain_md5.hexdigest()
    if file.sha256 and plain_sha != file.sha256:
        problem("sha256-mismatch", f"the plaintext hashes to {plain_sha}, the catalogue says {file.sha256}")
    if file.md5 and plain_md5 != file.md5:
        problem("md5-mismatch", f"the plaintext's md5 is {plain_md5}, the catalogue says {file.md5}")


def _reporting(chunks: Iterator[bytes], on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        on_bytes(len(chunk))
        yield chunk


def verify_archive(
    *,
    quick: bool = False,
    accessions: Iterable[str] | None = None,
    on_file: Callable[[File, list[Problem]], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Report:
    """Check every archived file (or those named); never stops at the first problem."""
    from gdi_archive.keyring.archive import archive_key_ids, archive_secret_keys

    secret_keys = archive_secret_keys()
    key_ids = archive_key_ids()
    files = list(archived_files(accessions))
    report = Report(files=len(files))
    if accessions:
        found = {f.accession for f in files}
        for accession in accessions:
            if accession not in found:
                report.problems.append(Problem(accession, "not-archived", "no ready file has this accession"))
    for file in files:
        problems, read = verify_file(file, secret_keys=secret_keys, key_ids=key_ids, quick=quick, on_bytes=on_bytes)
        report.checked += 1
        report.bytes_read += read
        report.problems += problems
        if on_file:
            on_file(file, problems)
    return report
