"""Fixtures for the passport tests: datasets with entitlements, and a real "other broker".

The other broker is a real HTTP server on 127.0.0.1 (a thread) that serves its JWKS and a
userinfo endpoint and records every request it gets; its tokens are signed with PyJWT, a
generic JWT library independent of the code under test.
"""

import json
import socket
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings
from django.utils import timezone

from gdi_archive.passports import trust
from tests.conftest import PASSWORD, clear_own_cache

PASSPORT_TYP = "vnd.ga4gh.passport+jwt"
VISA_TYP = "vnd.ga4gh.visa+jwt"


@pytest.fixture(autouse=True)
def _fresh_caches():
    trust.jwks_cache.clear()
    clear_own_cache()  # not cache.clear(): that is FLUSHDB on the Redis other test runs share
    yield
    trust.jwks_cache.clear()


def make_dataset(dac, title="Rare disease exomes", status="released"):
    from gdi_archive.catalogue.models import Dataset

    return Dataset.objects.create(title=title, dac=dac, status=status, terms_url="https://example.org/terms/v1")


@pytest.fixture
def dataset(dac):
    return make_dataset(dac)


@pytest.fixture
def other_dataset(dac):
    return make_dataset(dac, title="Second cohort")


def grant(user, dataset, *, days=30, granted_by=None, start=None):
    from gdi_archive.access.models import Entitlement

    now = timezone.now()
    return Entitlement.objects.create(
        user=user,
        dataset=dataset,
        start=start or now - timedelta(minutes=5),
        end=now + timedelta(days=days),
        granted_by=granted_by,
    )


def mint(client, **body):
    response = client.post("/api/tokens", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["token"]


def bearer(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


class Broker(ThreadingHTTPServer):
    """Another passport broker / visa issuer: JWKS at /jwks, userinfo at /userinfo."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _BrokerHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.iss = self.url + "/broker"
        self.jku = self.url + "/jwks"
        self.userinfo_url = self.url + "/userinfo"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "broker-key-1"
        self.requests: list[str] = []
        self.userinfo: dict[str, dict] = {}  # access token -> userinfo document

    def public_jwks(self) -> dict:
        jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def trust_entry(self, **extra) -> dict:
        return {"iss": self.iss, "jku": self.jku, "userinfo": self.userinfo_url, **extra}

    def sign(
        self, claims: dict, *, typ: str, jku: str | None = "default", kid: str | None = None, key=None, alg="RS256"
    ) -> str:
        headers = {"typ": typ, "kid": kid or self.kid}
        if jku == "default":
            headers["jku"] = self.jku
        elif jku is not None:
            headers["jku"] = jku
        return pyjwt.encode(claims, key or self.private_key, algorithm=alg, headers=headers)

    def visa(
        self,
        *,
        sub="alice@broker",
        type_="ControlledAccessGrants",
        value,
        source=None,
        by="dac",
        iss=None,
        exp_in=3600,
        iat_shift=0,
        extra: dict | None = None,
        **header,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": iss or self.iss,
            "sub": sub,
            "iat": now + iat_shift,
            "exp": now + exp_in,
            "jti": str(uuid.uuid4()),
            **(extra or {}),
            "ga4gh_visa_v1": {
                "type": type_,
                "asserted": now - 60,
                "value": value,
                "source": source or (self.url + "/dacs/EXAMPLE"),
                "by": by,
            },
        }
        return self.sign(claims, typ=VISA_TYP, **header)

    def passport(
        self, visas: list[str], *, sub="alice@broker", exp_in=3600, iat_shift=0, iss=None, extra=None, **header
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": iss or self.iss,
            "sub": sub,
            "iat": now + iat_shift,
            "exp": now + exp_in,
            "jti": str(uuid.uuid4()),
            **(extra or {}),
            "ga4gh_passport_v1": visas,
        }
        return self.sign(claims, typ=PASSPORT_TYP, **header)


class _BrokerHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        broker: Broker = self.server
        broker.requests.append(self.path)
        if self.path == "/jwks":
            body, status = broker.public_jwks(), 200
        elif self.path == "/userinfo":
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            info = broker.userinfo.get(token)
            body, status = (info, 200) if info else ({"error": "invalid_token"}, 401)
        else:
            body, status = {"error": "not found"}, 404
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def broker():
    server = Broker()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trusted_broker(broker, dac):
    """The broker, trusted for the datasets of the test DAC (a broker's grants are scoped)."""
    with override_settings(TRUSTED_ISSUERS=[broker.trust_entry(grants={"dacs": [dac.accession]})]):
        yield broker


class ConnectionRecorder:
    """A TCP listener that only counts connections: proof that nothing was fetched from it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def connection_recorder():
    recorder = ConnectionRecorder()
    try:
        yield recorder
    finally:
        recorder.close()


__all__ = ["PASSWORD", "bearer", "grant", "make_dataset", "mint"]
