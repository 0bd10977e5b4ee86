"""Uploads into the inbox, in parts, resumable: the archive tells how much it already has."""

import sys
import time
from pathlib import Path

import requests

from .api import Archive, ClientError, explain
from .progress import Progress
from .transfer import CHUNK, RateLimit


class _PartBody:
    """One part of the file as a request body of known length (so it goes with Content-Length,
    not chunked, which proxies and gunicorn may refuse for a PUT), counting progress as it is read."""

    def __init__(self, handle, length: int, progress: Progress, limit: RateLimit):
        self.handle, self.length, self.progress, self.limit = handle, length, progress, limit
        self.sent = 0

    def __len__(self) -> int:
        return self.length

    def read(self, n: int = -1) -> bytes:
        want = CHUNK if n is None or n < 0 else max(n, 64 * 1024)
        data = self.handle.read(min(want, self.length - self.sent))
        self.limit.take(len(data))
        self.sent += len(data)
        self.progress.add(len(data))
        return data


def server_offset(archive: Archive, url: str, size: int) -> int:
    """How much of an unfinished upload of this name (and this size) the server already has."""
    try:
        response = archive.session.get(url, timeout=TIMEOUT_PROBE)
    except (requests.ConnectionError, requests.Timeout):
        return -1
    if response.status_code == 404:
        return 0
    if response.status_code != 200:
        raise ClientError(explain(response))
    if response.headers.get("Upload-Length") != str(size):
        return 0  # another file under this name was left unfinished: the server starts afresh at 0
    return int(response.headers.get("Upload-Offset") or 0)


TIMEOUT_PROBE = (10, 60)
PART_SIZE = 64 * 1024 * 1024


def upload(
    archive: Archive,
    path: Path,
    name: str,
    *,
    retries: int,
    sha256: str | None = None,
    part_size: int = PART_SIZE,
    limit_rate: int | None = None,
) -> dict:
    """Send the file in parts (PUT with Content-Range). After a broken connection, or when the same
    command is run again, ask the server how many bytes it has and go on from there."""
    size = path.stat().st_size
    if size == 0:
        raise ClientError(f"{path} is empty.")
    url = archive.path("api", "inbox", name)
    headers = {"Content-Type": "application/octet-stream"}
    if sha256:
        headers["X-Checksum-SHA256"] = sha256
    offset = max(server_offset(archive, url, size), 0)
    resumed_from = offset
    if offset:
        print(f"resuming {name}: the archive already has {offset} of {size} bytes", file=sys.stderr)
    progress = Progress(size, name, done=offset)
    limit = RateLimit(limit_rate)
    failures = 0
    with open(path, "rb") as handle:
        while True:
            length = min(part_size, size - offset)
            handle.seek(offset)
            body = _PartBody(handle, length, progress, limit)
            part_headers = {**headers, "Content-Range": f"bytes {offset}-{offset + length - 1}/{size}"}
            try:
                response = archive.session.put(url, data=body, headers=part_headers, timeout=(10, 3600))
            except (requests.ConnectionError, requests.Timeout) as exc:
                progress.add(-body.sent)
                failures += 1
                if failures > retries:
                    progress.close()
                    raise ClientError(
                        f"Upload stopped after {failures} failed attempts ({exc.__class__.__name__}); "
                        f"run the same command again to resume from where the archive stands."
                    ) from None
                print(
                    f"\nupload interrupted ({exc.__class__.__name__}); resuming ({failures}/{retries})", file=sys.stderr
                )
                time.sleep(min(2**failures, 30))
                known = server_offset(archive, url, size)
                if known >= 0:
                    progress.add(known - offset)
                    offset = known
                continue
            if response.status_code == 409 and "Upload-Offset" in response.headers:
                known = int(response.headers["Upload-Offset"])
                if known == offset:
                    progress.close()
                    raise ClientError(explain(response))
                progress.add(known - offset)  # the archive knows better where this upload stands
                offset = known
                continue
            if response.status_code not in (200, 201, 202):
                progress.close()
                raise ClientError(explain(response))
            entry = response.json()
            if entry.get("status") == "partial":
                offset = int(entry["bytes_received"])
                failures = 0
                continue
            progress.close()
            entry["resumed_from"] = resumed_from
            return entry
