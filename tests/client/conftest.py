"""The `gdi-archive` command (installed from ./client) run as a subprocess against a live server."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD

CLI = Path(sys.executable).parent / "gdi-archive"
# The client of this tree, whichever checkout the installed (editable) one points at.
CLIENT_SOURCE = Path(__file__).resolve().parents[2] / "client"


class Persona:
    """One person at their own terminal: own config folder (token), own keys."""

    def __init__(self, username: str, url: str, home: Path):
        self.username = username
        self.url = url
        self.home = home
        home.mkdir(parents=True, exist_ok=True)

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GDI_ARCHIVE_")}
        env.update(
            XDG_CONFIG_HOME=str(self.home / "config"),
            HOME=str(self.home),
            GDI_ARCHIVE_URL=self.url,
            GDI_ARCHIVE_PASSWORD=PASSWORD,
            C4GH_PASSPHRASE="client-key-passphrase",
            PYTHONPATH=os.pathsep.join(filter(None, [str(CLIENT_SOURCE), os.environ.get("PYTHONPATH")])),
        )
        env.update(extra)
        return env

    def run(self, *args: str, ok: bool = True, timeout: float = 120, **env) -> subprocess.CompletedProcess:
        assert CLI.exists(), "the client is not installed: pip install -e ./client (requirements-dev.txt)"
        result = subprocess.run(
            [str(CLI), *args], cwd=self.home, env=self.env(**env), capture_output=True, text=True, timeout=timeout
        )
        if ok:
            assert result.returncode == 0, f"gdi-archive {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def popen(self, *args: str, **env) -> subprocess.Popen:
        return subprocess.Popen(
            [str(CLI), *args],
            cwd=self.home,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str):
        return json.loads(self.run(*args, "--json").stdout)

    def login(self) -> "Persona":
        self.run("login", "--url", self.url, "--username", self.username)
        return self

    @property
    def token(self) -> str:
        return (self.home / "config" / "gdi-archive" / "token").read_text().strip()

    def api(self, method: str, path: str, expect: int = 200, **kwargs):
        response = requests.request(
            method, self.url + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=60, **kwargs
        )
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content else None


def wait_until_ready(persona: Persona, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in persona.json("inbox"):
            if entry["name"] == name and entry["status"] in ("ready", "error"):
                assert entry["status"] == "ready", entry
                return entry
        time.sleep(0.5)
    raise AssertionError(f"{name} was not ingested in {timeout} s: {persona.json('inbox')}")


def publish_and_grant(
    *, steward: Persona, member: Persona, applicant: Persona, dac_accession: str, files: list[str]
) -> str:
    """The steward builds and releases a dataset; the applicant asks; the DAC member approves."""
    dataset = steward.api(
        "POST",
        "/api/datasets",
        201,
        json={
            "title": "Client test cohort",
            "dac": dac_accession,
            "duo": ["DUO:0000042"],
            "description": "for the client tests",
        },
    )
    accession = dataset["accession"]
    steward.api("POST", f"/api/datasets/{accession}/files", json={"files": files})
    steward.api("POST", f"/api/datasets/{accession}/release")
    request = applicant.api(
        "POST",
        "/api/access-requests",
        201,
        json={
            "datasets": [accession],
            "title": "Rare variants",
            "purpose": "Find rare variants in this cohort.",
            "accept_terms": True,
        },
    )
    applicant.api("POST", f"/api/access-requests/{request['id']}/submit")
    approved = member.api("POST", f"/api/access-requests/{request['id']}/approve", json={})
    assert approved["status"] == "approved"
    # A passport token carries the visas of the moment it was minted: a new one sees the grant.
    # (Minting truncates "now" to whole seconds, so a token minted in the same second as the
    # approval would miss it: wait for the next second.)
    time.sleep(1.05)
    applicant.login()
    return accession


def reset_sign_in_limits(*, addresses=("127.0.0.1",), usernames=("alice", "bob", "carol", "sam", "root")) -> None:
    """Failed passwords are counted in the shared cache for minutes; every test from 127.0.0.1
    (this one, the schema fuzz) adds to the same count, so each test starts from zero."""
    from gdi_archive.operations import passwords

    passwords.reset(usernames=usernames, addresses=addresses)


@pytest.fixture
def server(transactional_db, live_server, settings):
    # Tickets, visas and signed URLs name BASE_URL: make it the live server, as in production.
    settings.BASE_URL = live_server.url
    reset_sign_in_limits()
    return live_server.url
