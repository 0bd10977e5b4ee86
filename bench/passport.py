"""How fast is a passport checked? Our full checklist against a bare JWT library.

A broker passport holding 10 ControlledAccessGrants visas (11 RS256 JWTs) is checked with
`gdi_archive.passports.verify.check_passport` (the JWKS was fetched once from a real local HTTP
server and is cached), next to only decoding and verifying the same 11 JWTs with joserfc and
with PyJWT, keys already imported. The ratio ours / bare should be at least 0.5.

    .venv/bin/python bench/passport.py [--seconds 3] [--json]

Also the same token through `passports.verified_cache.verified_passport` again and again (what
a client re-using its token costs after the first request; the local-memory cache here, Redis in
production).

--json: the last line is {"visas", "jwts", "ours_per_s", "cached_per_s", "joserfc_per_s", "pyjwt_per_s",
"ratio_joserfc", "ratio_pyjwt", "jwks_fetches"}.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


class _Jwks(BaseHTTPRequestHandler):
    document = b"{}"
    hits = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)


def rate(fn, seconds: float) -> float:
    fn()  # warm up (and fill caches)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            fn()
        count += 20
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--visas", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    args = parser.parse_args()

    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    iss, jku = f"{base}/broker", f"{base}/jwks"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="gdi_archive.settings",
        DATA_DIR=tempfile.mkdtemp(prefix="gdi-bench-"),
        DATABASE_URL="sqlite://:memory:",
        BASE_URL="http://archive.example",
        LOG_LEVEL="ERROR",
        TRUSTED_ISSUERS=json.dumps([{"iss": iss, "jku": jku}]),
    )
    import django

    django.setup()
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import RSAKey

    from gdi_archive.passports.verified_cache import verified_passport
    from gdi_archive.passports.verify import check_passport

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    _Jwks.document = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()
    threading.Thread(target=server.serve_forever, daemon=True).start()

    now = int(time.time())
    headers = {"kid": "k1", "jku": jku}
    visas = [
        pyjwt.encode(
            {
                "iss": iss,
                "sub": "alice",
                "iat": now,
                "exp": now + 3600,
                "jti": str(uuid.uuid4()),
                "ga4gh_visa_v1": {
                    "type": "ControlledAccessGrants",
                    "asserted": now,
                    "value": f"http://archive.example/datasets/GDID{n:011d}",
                    "source": "https://dac.example/dacs/1",
                    "by": "dac",
                },
            },
            private,
            algorithm="RS256",
            headers={**headers, "typ": "vnd.ga4gh.visa+jwt"},
        )
        for n in range(args.visas)
    ]
    passport = pyjwt.encode(
        {"iss": iss, "sub": "alice", "iat": now, "exp": now + 3600, "jti": "p", "ga4gh_passport_v1": visas},
        private,
        algorithm="RS256",
        headers={**headers, "typ": "vnd.ga4gh.passport+jwt"},
    )
    tokens = [passport, *visas]

    checked = check_passport(passport, audiences={"http://archive.example"})
    assert len(checked.visas) == args.visas, "every visa must be accepted"

    jose_key = RSAKey.import_key(jwk)
    pyjwt_key = private.public_key()

    def ours():
        check_passport(passport, audiences={"http://archive.example"})

    def bare_joserfc():
        for token in tokens:
            jose_jwt.decode(token, jose_key, algorithms=["RS256"])

    def bare_pyjwt():
        for token in tokens:
            pyjwt.decode(token, pyjwt_key, algorithms=["RS256"], options={"verify_aud": False})

    def cached():
        verified_passport(passport, audiences={"http://archive.example"})

    ours_rate = rate(ours, args.seconds)
    cached_rate = rate(cached, args.seconds)
    joserfc_rate = rate(bare_joserfc, args.seconds)
    pyjwt_rate = rate(bare_pyjwt, args.seconds)
    server.shutdown()
    print(
        f"passport of {args.visas} visas ({len(tokens)} RS256 JWTs, {len(passport)} bytes), JWKS fetched {_Jwks.hits} time(s)"
    )
    print(f"  full checklist (check_passport, cached JWKS): {ours_rate:8.1f} passports/s")
    print(f"  the same token again (verified-passport cache hit):  {cached_rate:8.1f} passports/s")
    print(f"  bare joserfc decode+verify of the {len(tokens)} JWTs: {joserfc_rate:8.1f} passports/s")
    print(f"  bare PyJWT decode+verify of the {len(tokens)} JWTs:   {pyjwt_rate:8.1f} passports/s")
    print(
        f"  ratio ours / bare joserfc: {ours_rate / joserfc_rate:.2f}   ours / bare PyJWT: {ours_rate / pyjwt_rate:.2f}   (goal >= 0.5)"
    )
    if args.json:
        figures = {
            "visas": args.visas,
            "jwts": len(tokens),
            "ours_per_s": round(ours_rate, 1),
            "cached_per_s": round(cached_rate, 1),
            "joserfc_per_s": round(joserfc_rate, 1),
            "pyjwt_per_s": round(pyjwt_rate, 1),
            "ratio_joserfc": round(ours_rate / joserfc_rate, 3),
            "ratio_pyjwt": round(ours_rate / pyjwt_rate, 3),
            "jwks_fetches": _Jwks.hits,
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
