"""Downloads: parallel byte ranges, resumable, decrypted on the fly (uploads are in `uploads`)."""

import hashlib
import io
import json
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from . import c4gh
from .api import Archive, ClientError, explain
from .progress import Progress, human_size

CIPHER_SEGMENT = 65564  # 64 KiB of plaintext + nonce + MAC: parts start on segment boundaries
CHUNK = 1024 * 1024
SAVE_EVERY = 1024 * 1024
SETTLE_SECONDS = 0.5  # after Ctrl-C, how long the parts may take to write what they hold


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a download: what was fetched is kept for the next run to resume."""


class RateLimit:
    """A shared byte budget per second across the parallel parts (like curl's --limit-rate)."""

    def __init__(self, bytes_per_second: int | None):
        self.rate = bytes_per_second
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.sent = 0

    def take(self, n: int) -> None:
        if not self.rate:
            return
        with self.lock:
            self.sent += n
            ahead = self.sent / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


def parse_rate(text: str | None, option: str = "--limit-rate") -> int | None:
    """'500K', '2M', '1G' or bytes."""
    if not text:
        return None
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper()
    factor = units.get(text[-1], 1)
    try:
        value = float(text[:-1] if text[-1] in units else text)
    except ValueError:
        raise ClientError(f"{option} {text}: give a number of bytes like 500K or 2M") from None
    return max(1, int(value * factor))


def _content_range_total(value: str) -> int:
    # "bytes 0-0/12345" or "bytes */12345"
    return int(value.rsplit("/", 1)[1])


class PartFile:
    """OUT.part is the Crypt4GH file being assembled: the header, then the body as it arrives
    (so the finished file is renamed, never copied); OUT.part.json remembers what is done."""

    def __init__(self, out: Path):
        self.data = out.with_name(out.name + ".part")
        self.state_path = out.with_name(out.name + ".part.json")
        self.lock = threading.Lock()
        self.grown = threading.Condition()  # signalled when more of the body is on disk
        self.state: dict = {}

    def load(self) -> dict | None:
        if self.state_path.is_file() and self.data.is_file():
            try:
                return json.loads(self.state_path.read_text())
            except ValueError:
                return None
        return None

    @property
    def body_offset(self) -> int:
        return self.state["header_length"]

    def start(self, state: dict, header: bytes) -> None:
        self.state = state
        with open(self.data, "wb") as handle:
            handle.write(header)
            handle.truncate(len(header) + state["total"])
        self.save()

    def save(self) -> None:
        with self.lock:
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state))
            os.replace(tmp, self.state_path)

    def remove(self) -> None:
        for path in (self.data, self.state_path):
            path.unlink(missing_ok=True)

    def contiguous(self) -> int:
        """How many body bytes from the start are on disk (what decryption may read)."""
        end = 0
        for part in self.state["parts"]:
            end = part["start"] + part["done"]
            if part["done"] < part["end"] - part["start"]:
                break
        return end


class GrowingBody(io.RawIOBase):
    """The header, then OUT.part as it fills from the start: decryption follows the download."""

    def __init__(self, header: bytes, partfile: PartFile, total: int, stop: threading.Event):
        self.header = header
        self.partfile = partfile
        self.total = total
        self.stop = stop
        self.position = 0
        self.fd = os.open(partfile.data, os.O_RDONLY)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.position < len(self.header):
            n = min(len(buffer), len(self.header) - self.position)
            buffer[:n] = self.header[self.position : self.position + n]
            self.position += n
            return n
        offset = self.position - len(self.header)
        if offset >= self.total:
            return 0
        if self.stop.is_set():
            raise ClientError("The download stopped before the file was complete.")
        with self.partfile.grown:
            while (available := self.partfile.contiguous()) <= offset:
                if self.stop.is_set():
                    raise ClientError("The download stopped before the file was complete.")
                self.partfile.grown.wait(0.5)
        data = os.pread(self.fd, min(len(buffer), available - offset), self.partfile.body_offset + offset)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


class Decryptor(threading.Thread):
    """Decrypts the growing body into OUT.tmp while the parts arrive."""

    def __init__(self, secret: bytes, body: GrowingBody, target: Path):
        super().__init__(name="decrypt", daemon=True)
        self.secret, self.body, self.target = secret, body, target
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with open(self.target, "wb") as out:
                self.result = c4gh.decrypt_stream(self.secret, io.BufferedReader(self.body, buffer_size=CHUNK), out)
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            self.body.close()


def _plan(total: int, parallel: int) -> list[dict]:
    """Up to `parallel` parts, each a whole number of cipher segments (the last takes the rest)."""
    segments = max(1, -(-total // CIPHER_SEGMENT))
    per = max(1, -(-segments // max(parallel, 1)))
    parts, start = [], 0
    while start < total:
        end = min(total, start + per * CIPHER_SEGMENT)
        parts.append({"start": start, "end": end, "done": 0})
        start = end
    return parts


class ChangedOnServer(Exception):
    pass


@dataclass(frozen=True)
class _Fetch:
    """What every part of one download shares: where the body comes from, the part file it goes
    into, and the progress, stop signal and rate limit of the whole download."""

    archive: Archive
    url: str
    headers: dict
    partfile: PartFile
    etag: str
    progress: Progress
    stop: threading.Event
    limit: RateLimit


def _fetch_part(fetch: _Fetch, part: dict) -> None:
    """Fetch what is missing of one part, one range request at a time, retrying a broken connection."""
    attempts = 0
    while part["start"] + part["done"] < part["end"]:
        if fetch.stop.is_set():
            return
        try:
            _fetch_range(fetch, part)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
            fetch.partfile.save()
            attempts += 1
            if attempts > 5:
                raise ClientError("The connection keeps failing; run the same command again to resume.") from None
            fetch.stop.wait(min(2**attempts, 30))


def _fetch_range(fetch: _Fetch, part: dict) -> None:
    """One request for the rest of the part (If-Range: only if the body is still the same)."""
    begin = part["start"] + part["done"]
    request_headers = {**fetch.headers, "Range": f"bytes={begin}-{part['end'] - 1}", "If-Range": fetch.etag}
    with fetch.archive.session.get(fetch.url, headers=request_headers, stream=True, timeout=(10, 120)) as response:
        if response.status_code == 200:
            raise ChangedOnServer()  # If-Range did not match: the stored body changed
        if response.status_code != 206:
            raise ClientError(explain(response))
        with open(fetch.partfile.data, "r+b") as handle:
            handle.seek(fetch.partfile.body_offset + begin)
            _write_chunks(fetch, response, handle, part)
            handle.flush()
        fetch.partfile.save()


def _write_chunks(fetch: _Fetch, response, handle, part: dict) -> None:
    """Write the response into the part file as it comes, telling the decryptor; save the state every MiB."""
    partfile, limit = fetch.partfile, fetch.limit
    unsaved = 0
    for chunk in response.iter_content(min(CHUNK, limit.rate or CHUNK)):
        if fetch.stop.is_set():
            break
        room = part["end"] - (part["start"] + part["done"])
        chunk = chunk[:room]
        limit.take(len(chunk))
        handle.write(chunk)
        handle.flush()
        with partfile.grown:
            part["done"] += len(chunk)
            partfile.grown.notify_all()
        fetch.progress.add(len(chunk))
        unsaved += len(chunk)
        if unsaved >= SAVE_EVERY:
            partfile.save()
            unsaved = 0


def _finish(decryptor: "Decryptor | None", timeout: float | None = None) -> None:
    if decryptor is not None:
        with decryptor.body.partfile.grown:
            decryptor.body.partfile.grown.notify_all()
        decryptor.join(timeout)


def download(
    archive: Archive,
    accession: str,
    out: Path,
    *,
    parallel: int,
    public: bytes | None,
    secret: bytes | None,
    decrypt: bool,
    verify: bool = True,
    part_path: str = "content",
    limit_rate: int | None = None,
) -> dict:
    """Header once, body in parallel ranges into OUT.part; with `decrypt`, the plaintext is written
    as the body arrives (following the contiguous part from the start), else the Crypt4GH file.

    The steps: fetch the header and probe the body (`_probe`), take up an earlier run's part file
    if it is for the same body (`_open_partfile`), fetch the missing ranges (`_fetch_body`),
    check the plaintext's checksum (`_plaintext`, `_check_sha256`) and rename into place.
    """
    headers = {"X-C4GH-Public-Key": c4gh.header_value(public)} if public else {}
    header = archive.request("GET", f"/api/files/{accession}/header", headers=headers).content
    url = archive.url + f"/api/files/{accession}/{part_path}"
    total, etag = _probe(archive, url, headers)
    partfile, resumed = _open_partfile(out, accession, etag=etag, total=total, header=header, parallel=parallel)

    progress = Progress(total, accession, done=resumed)
    stop = threading.Event()
    tmp = out.with_name(out.name + ".tmp")
    decryptor = Decryptor(secret, GrowingBody(header, partfile, total, stop), tmp) if decrypt else None
    if decryptor:
        decryptor.start()
    _fetch_body(archive, url, headers, partfile, etag, progress, stop, RateLimit(limit_rate), parallel, decryptor, tmp)

    result = {"accession": accession, "bytes": total + len(header), "resumed_from": resumed}
    try:
        plain = _plaintext(decryptor, secret, verify, partfile, tmp)
    except KeyboardInterrupt:
        tmp.unlink(missing_ok=True)
        raise Interrupted(
            f"interrupted while checking; all {human_size(total)} are kept in {partfile.data.name}:"
            " run the same command again to finish"
        ) from None
    if plain is not None:
        result.update(sha256=plain.sha256.hexdigest(), size=plain.size)
        if verify:
            result["verified"] = _check_sha256(archive, accession, result["sha256"], partfile, tmp)
    if decryptor:
        os.replace(tmp, out)
        partfile.remove()
    else:
        os.replace(partfile.data, out)
        partfile.state_path.unlink(missing_ok=True)
    return result


def _probe(archive: Archive, url: str, headers: dict) -> tuple[int, str]:
    """The body's size and ETag, from a request for its first byte."""
    probe = archive.request("GET", url, headers={**headers, "Range": "bytes=0-0"}, ok=(200, 206, 416), stream=True)
    probe.close()
    if probe.status_code == 416:  # an empty body
        total, etag = 0, probe.headers.get("ETag", "")
    elif probe.status_code == 200:
        total, etag = int(probe.headers.get("Content-Length", "0")), probe.headers.get("ETag", "")
    else:
        total, etag = _content_range_total(probe.headers["Content-Range"]), probe.headers.get("ETag", "")
    if not etag:
        raise ClientError("The server gave no ETag for this file, so a download could not be resumed safely.")
    return total, etag


def _open_partfile(
    out: Path, accession: str, *, etag: str, total: int, header: bytes, parallel: int
) -> tuple[PartFile, int]:
    """OUT.part and how many body bytes it already holds: an earlier run's, if it was for the same
    file, body and header; else a new one."""
    partfile = PartFile(out)
    previous = partfile.load()
    header_sha256 = hashlib.sha256(header).hexdigest()
    same = {"accession": accession, "etag": etag, "total": total, "header_sha256": header_sha256}
    if previous and all(previous.get(key) == value for key, value in same.items()):
        partfile.state = previous
        return partfile, sum(part["done"] for part in previous["parts"])
    partfile.start({**same, "header_length": len(header), "parts": _plan(total, parallel)}, header)
    return partfile, 0


def _fetch_body(
    archive: Archive,
    url: str,
    headers: dict,
    partfile: PartFile,
    etag: str,
    progress: Progress,
    stop: threading.Event,
    limit: RateLimit,
    parallel: int,
    decryptor: "Decryptor | None",
    tmp: Path,
) -> None:
    """Every unfinished part, `parallel` at a time. On any failure (Ctrl-C included) the others stop
    at once and the part file keeps what arrived, to resume; unless the body changed on the server.
    Partial plaintext is never left behind."""
    todo: queue.Queue = queue.Queue()
    for part in partfile.state["parts"]:
        if part["done"] < part["end"] - part["start"]:
            todo.put(part)
    args = (_Fetch(archive, url, headers, partfile, etag, progress, stop, limit), todo)
    # Daemon threads: a part blocked in a slow read cannot hold the process after Ctrl-C.
    workers = [
        threading.Thread(target=_fetch_parts, args=args, name=f"part-{n}", daemon=True)
        for n in range(min(max(1, parallel), todo.qsize()))
    ]
    try:
        for worker in workers:
            worker.start()
        _wait_for(workers)
    except ChangedOnServer:
        _stop(stop, workers, decryptor)
        partfile.remove()
        tmp.unlink(missing_ok=True)
        raise ClientError(
            "The file changed on the server while downloading; the partial download was discarded. Run the command again."
        ) from None
    except KeyboardInterrupt:
        _stop(stop, workers, decryptor)
        partfile.save()
        tmp.unlink(missing_ok=True)  # never leave partial plaintext behind
        have = sum(part["done"] for part in partfile.state["parts"])
        raise Interrupted(
            f"interrupted; {human_size(have)} of {human_size(partfile.state['total'])} kept in {partfile.data.name}:"
            " run the same command again to resume"
        ) from None
    except BaseException:
        _stop(stop, workers, decryptor)
        partfile.save()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        progress.close()


def _fetch_parts(fetch: _Fetch, todo: queue.Queue) -> None:
    """One worker: take parts until none is left (or the download stops); the first error stops all."""
    try:
        while not fetch.stop.is_set():
            try:
                part = todo.get_nowait()
            except queue.Empty:
                return
            _fetch_part(fetch, part)
    except BaseException as exc:  # handed to the main thread
        threading.current_thread().error = exc
        fetch.stop.set()


def _wait_for(workers: list[threading.Thread]) -> None:
    """Until every worker is done; re-raise the first worker's error here. Short waits, so that
    Ctrl-C reaches this (the main) thread at once."""
    while any(worker.is_alive() for worker in workers):
        for worker in workers:
            worker.join(0.1)
            if getattr(worker, "error", None) is not None:
                raise worker.error
    for worker in workers:
        if getattr(worker, "error", None) is not None:
            raise worker.error


def _stop(stop: threading.Event, workers: list[threading.Thread], decryptor: "Decryptor | None") -> None:
    """Tell the parts and the decryptor to stop, and give them SETTLE_SECONDS to do so."""
    stop.set()
    deadline = time.monotonic() + SETTLE_SECONDS
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    _finish(decryptor, max(0.0, deadline - time.monotonic()))


def _plaintext(decryptor: "Decryptor | None", secret: bytes | None, verify: bool, partfile: PartFile, tmp: Path):
    """The plaintext's digest: from the decryptor that followed the download, or (with a key and
    `verify`) by decrypting the assembled file; None without a key."""
    if decryptor:
        _finish(decryptor)
        if decryptor.error is not None:
            tmp.unlink(missing_ok=True)
            raise decryptor.error
        return decryptor.result
    if secret is not None and verify:
        with open(partfile.data, "rb") as assembled:
            return c4gh.decrypt_stream(secret, io.BufferedReader(assembled, buffer_size=CHUNK))
    return None


def _check_sha256(archive: Archive, accession: str, sha256: str, partfile: PartFile, tmp: Path) -> bool:
    """Compare with the catalogue's sha256 (True when it has one); on a mismatch keep nothing."""
    entry = archive.find_file(accession)
    expected = (entry or {}).get("sha256")
    if expected and expected.lower() != sha256:
        tmp.unlink(missing_ok=True)
        partfile.remove()
        raise ClientError(f"Checksum mismatch for {accession}: expected {expected}, got {sha256}. Nothing was kept.")
    return bool(expected)
