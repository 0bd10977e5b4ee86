"""Talking to the archive: where it is, the stored token, and errors people can read."""

import json
import os
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests

from . import __version__

TIMEOUT = (10, 300)  # connect, read


class ClientError(Exception):
    """Something the user can fix or should know; printed without a traceback."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gdi-archive"


def save_login(url: str, token: str) -> Path:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    token_path = folder / "token"
    # Created with 0600 from the start, so the token is never readable by others, not even briefly.
    fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token.strip() + "\n")
    token_path.chmod(0o600)
    (folder / "config.json").write_text(json.dumps({"url": url.rstrip("/")}) + "\n")
    return token_path


def load_url() -> str:
    url = os.environ.get("GDI_ARCHIVE_URL")
    if not url:
        path = config_dir() / "config.json"
        if path.is_file():
            url = json.loads(path.read_text()).get("url")
    if not url:
        raise ClientError("Which archive? Run `gdi-archive login --url https://...` or set GDI_ARCHIVE_URL.")
    return url.rstrip("/")


def load_token(required: bool = True) -> str | None:
    token = os.environ.get("GDI_ARCHIVE_TOKEN")
    if not token:
        path = config_dir() / "token"
        if path.is_file():
            if path.stat().st_mode & 0o077:
                raise ClientError(f"{path} is readable by other users; run `chmod 600 {path}` (or log in again).")
            token = path.read_text().strip()
    if not token and required:
        raise ClientError(
            "Not logged in. Run `gdi-archive login` and paste a token from the archive's Access tokens page."
        )
    return token


def explain(response: requests.Response) -> str:
    """The server's {"error", "detail"} (or htsget's) as one line."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        if "htsget" in body and isinstance(body["htsget"], dict):
            body = body["htsget"]
        error = body.get("error") or f"HTTP {response.status_code}"
        detail = body.get("detail") or body.get("message") or ""
        return f"{error}: {detail}" if detail else str(error)
    return f"HTTP {response.status_code}"


class Archive:
    def __init__(self, url: str | None = None, token: str | None = None, need_token: bool = True):
        self.url = (url or load_url()).rstrip("/")
        self.token = token if token is not None else load_token(required=need_token)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"gdi-archive-client/{__version__}"
        if self.token:
            self.session.headers["Authorization"] = f"Bearer {self.token}"

    def path(self, *parts: str) -> str:
        return self.url + "/" + "/".join(quote(part, safe="") if i else part for i, part in enumerate(parts))

    def request(self, method: str, path: str, *, ok=(200,), **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        url = path if path.startswith(("http://", "https://")) else self.url + path
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            raise ClientError(f"Cannot reach {self.url}: {exc.__class__.__name__}") from None
        if response.status_code not in ok:
            if response.status_code == 401:
                raise ClientError(f"{explain(response)} (is your token still valid? `gdi-archive login`)")
            raise ClientError(explain(response))
        return response

    def json(self, method: str, path: str, **kwargs):
        return self.request(method, path, **kwargs).json()

    def listing(self, path: str) -> list:
        """Every row of a listing: the archive sends pages (a JSON array each) and the next one's
        cursor in `Link: <...>; rel="next"`; its query is followed on our own URL and path."""
        rows: list = []
        url = path
        while True:
            response = self.request("GET", url)
            rows.extend(response.json())
            following = response.links.get("next", {}).get("url")
            if not following:
                return rows
            url = path.split("?", 1)[0] + "?" + urlsplit(following).query

    def find_file(self, accession: str) -> dict | None:
        """The catalogue entry (name, size, sha256, format) of a file I may read, or None."""
        for dataset in self.listing("/api/datasets"):
            for entry in self.listing(f"/api/datasets/{quote(dataset['accession'], safe='')}/files"):
                if entry.get("accession") == accession:
                    return entry
        return None
