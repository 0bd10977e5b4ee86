"""`gdi-archive login --device`: RFC 8628 against a small identity provider on 127.0.0.1 that the
archive trusts as a broker (TRUSTED_ISSUERS with userinfo), so the access token the client gets
is then accepted by the archive itself."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from .conftest import Persona


class Provider:
    """Discovery, device authorization, token (pending once, then the token) and userinfo."""

    def __init__(self, *, approve: bool):
        self.approve = approve
        self.polls = 0
        self.token = "opaque-access-token-for-alice-at-the-broker"
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status, document):
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                if self.path == "/.well-known/openid-configuration":
                    self._json(
                        200,
                        {
                            "issuer": provider.url,
                            "device_authorization_endpoint": provider.url + "/device",
                            "token_endpoint": provider.url + "/token",
                            "userinfo_endpoint": provider.url + "/userinfo",
                        },
                    )
                elif self.path == "/userinfo" and self.headers.get("Authorization") == f"Bearer {provider.token}":
                    self._json(200, {"sub": "alice@broker", "ga4gh_passport_v1": []})
                else:
                    self._json(401 if self.path == "/userinfo" else 404, {"error": "invalid_token"})

            def do_POST(self):  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                if self.path == "/device" and form.get("client_id") == ["gdi-cli"]:
                    self._json(
                        200,
                        {
                            "device_code": "dev-123",
                            "user_code": "WDJB-MJHT",
                            "verification_uri": provider.url + "/activate",
                            "expires_in": 60,
                            "interval": 1,
                        },
                    )
                elif self.path == "/token" and form.get("device_code") == ["dev-123"]:
                    provider.polls += 1
                    if provider.polls == 1:
                        self._json(400, {"error": "authorization_pending"})
                    elif provider.approve:
                        self._json(200, {"access_token": provider.token, "token_type": "Bearer", "expires_in": 3600})
                    else:
                        self._json(400, {"error": "access_denied", "error_description": "The user said no."})
                else:
                    self._json(400, {"error": "invalid_request"})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def provider(request):
    made = []

    def make(approve=True):
        made.append(Provider(approve=approve))
        return made[-1]

    yield make
    for item in made:
        item.close()


def test_device_flow_login_gives_a_token_the_archive_accepts(server, settings, tmp_path, provider):
    idp = provider(approve=True)
    settings.TRUSTED_ISSUERS = [{"iss": idp.url, "jku": idp.url + "/jwks", "userinfo": idp.url + "/userinfo"}]
    alice = Persona("alice", server, tmp_path / "alice")
    result = alice.run("login", "--url", server, "--device", "--issuer", idp.url, "--client-id", "gdi-cli")
    assert "WDJB-MJHT" in result.stderr and idp.url + "/activate" in result.stderr
    assert idp.polls == 2  # waited while the person had not approved yet
    assert alice.token == idp.token
    assert alice.json("datasets") == []  # the archive resolved the token through the broker's userinfo


def test_device_flow_refused_by_the_person_stores_nothing(server, settings, tmp_path, provider):
    idp = provider(approve=False)
    alice = Persona("alice", server, tmp_path / "alice")
    result = alice.run("login", "--url", server, "--device", "--issuer", idp.url, "--client-id", "gdi-cli", ok=False)
    assert result.returncode == 1 and "access_denied" in result.stderr and "Traceback" not in result.stderr
    assert not (alice.home / "config" / "gdi-archive" / "token").exists()
    missing = alice.run("login", "--url", server, "--device", ok=False)
    assert "--issuer" in missing.stderr
