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
    """The problems found with one archived file, and how many body bytes were read."""
    name = label(file)
    problems: list[Problem] = []

    def problem(kind: str, detail: str) -> None:
        problems.append(Problem(name, kind, detail))

    missing = _missing_record(file)
    if missing:
        problem("incomplete-record", "the catalogue row lacks " + ", ".join(missing))
        if "location" in missing:
            return problems, 0

    session_keys = None
    if file.header:
        try:
            opened = open_header(bytes(file.header), secret_keys)
        except NotForOurKey:
            problem("header-unreadable", "no archive key opens the stored header")
        except Crypt4GHError as exc:
            problem("header-unreadable", f"the stored header is damaged: {exc}")
        else:
            session_keys = opened.session_keys
            opened_by = key_ids[opened.key_index]
            if file.archive_key_id and file.archive_key_id != opened_by:
                problem(
                    "header-key-mismatch",
                    f"the header opens with archive key {opened_by}, but the catalogue says {file.archive_key_id}",
                )
            if opened.edit_list is not None:
                problem("header-edit-list", "the stored header carries an edit list; archived headers never should")

    store = archive_store()
    try:
        size = store.size(file.location)
    except ObjectNotFound:
        problem("missing-object", f"there is no object {file.location!r} in the archive store")
        return problems, 0
    except StorageError as exc:
        problem("storage-error", f"the archive store did not answer for {file.location!r}: {exc}")
        return problems, 0
    if file.stored_size is not None and size != file.stored_size:
        problem("size-mismatch", f"the stored body has {size} bytes, the catalogue says {file.stored_size}")

    body_sha = hashlib.sha256()
    read = [0]
    plain_sha, plain_md5, plain_size = hashlib.sha256(), hashlib.md5(), 0
    decrypt = not quick and session_keys is not None
    try:
        body = _hashing(store.iter_range(file.location, 0, None, chunk_size=READ_CHUNK), body_sha, read)
        if on_bytes:
            body = _reporting(body, on_bytes)
        if decrypt:
            try:
                for plain in decrypt_segments(body, session_keys):
                    plain_sha.update(plain)
                    plain_md5.update(plain)
                    plain_size += len(plain)
            except SegmentAuthenticationError as exc:
                problem("segment-authentication", f"segment {exc.segment_index} fails authentication")
                decrypt = False
            except TruncatedFile as exc:
                problem("truncated-body", str(exc))
                decrypt = False
        for _ in body:  # quick mode, or finish hashing after a decryption failure
            pass
    except StorageError as exc:
        problem("storage-error", f"reading {file.location!r} failed after {read[0]} bytes: {exc}")
        return problems, read[0]

    if file.stored_sha256 and body_sha.hexdigest() != file.stored_sha256:
        problem(
            "body-sha256-mismatch",
            f"the stored body hashes to {body_sha.hexdigest()}, the catalogue says {file.stored_sha256}",
        )
    if decrypt:
        if file.plaintext_size is not None and plain_size != file.plaintext_size:
            problem(
                "plaintext-size-mismatch",
                f"the body decrypts to {plain_size} bytes, the catalogue says {file.plaintext_size}",
            )
        if file.sha256 and plain_sha.hexdigest() != file.sha256:
            problem(
                "sha256-mismatch", f"the plaintext hashes to {plain_sha.hexdigest()}, the catalogue says {file.sha256}"
            )
        if file.md5 and plain_md5.hexdigest() != file.md5:
            problem("md5-mismatch", f"the plaintext's md5 is {plain_md5.hexdigest()}, the catalogue says {file.md5}")
    return problems, read[0]


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
