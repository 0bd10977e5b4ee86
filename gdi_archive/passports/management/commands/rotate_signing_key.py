"""Rotate the visa signing key without breaking tokens already issued."""

from django.conf import settings
from django.core.management.base import BaseCommand

from gdi_archive.passports import keys


class Command(BaseCommand):
    help = (
        "Make a new visa signing key and sign with it from now on. Older keys stay in the JWKS "
        "until every token they signed has expired. With VISA_SIGNING_KEY_FILE set, writes the "
        "new key to --out for the operator to put first in that list."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", help="folder for the new key when keys come from VISA_SIGNING_KEY_FILE")
        parser.add_argument("--algorithm", choices=["RS256", "ES256"], default=None)

    def handle(self, *args, out=None, algorithm=None, **options):
        algorithm = algorithm or settings.VISA_SIGNING_ALGORITHM
        if settings.VISA_SIGNING_KEY_FILES:
            from pathlib import Path

            if not out:
                self.stderr.write("Keys come from VISA_SIGNING_KEY_FILE: give --out FOLDER for the new key.")
                raise SystemExit(2)
            path = keys.write_new_key(Path(out), algorithm)
            self.stdout.write(
                f"New key: {path}\nPut it FIRST in VISA_SIGNING_KEY_FILE and keep the old ones "
                f"listed for at least {keys.max_token_lifetime()} seconds after the restart."
            )
            return
        current, retired = keys.rotate(algorithm=algorithm)
        self.stdout.write(
            f"Signing with key {current.kid} ({current.alg}); "
            f"{len(keys.signing_keys())} key(s) published; {len(retired)} retired."
        )
