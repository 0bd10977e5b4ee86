"""Rotate the archive's Crypt4GH key: re-encrypt stored headers to the current key.

In development `--generate` first makes a new key the current one. In production, add the new
key file first in C4GH_SECRET_KEY_FILE (keeping the old ones after it), restart, then run this.
Safe to stop and run again: finished files are skipped.
"""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from gdi_archive.crypt4gh.keys import key_id
from gdi_archive.keyring.archive import current_key_id, generate_new_archive_key

from ...rotation import rotate_headers


class Command(BaseCommand):
    help = "Re-encrypt every stored file header to the current archive key (bodies are not touched)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--generate",
            action="store_true",
            help="Development: first generate a new key pair and make it the current key.",
        )

    def handle(self, *args, generate=False, **options):
        if generate:
            try:
                pk = generate_new_archive_key()
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"New current archive key {key_id(pk)}")
        self.stdout.write(f"Current archive key: {current_key_id()}")

        def progress(file, number, total):
            self.stdout.write(f"  [{number}/{total}] {file}  -> {file.archive_key_id[:16]}")

        summary = rotate_headers(actor="rotate_archive_key", on_file=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {summary['rekeyed']} header(s) re-encrypted, {summary['failed']} failed, "
                f"{summary['candidates'] - summary['rekeyed'] - summary['failed']} already current."
            )
        )
        if summary["failed"]:
            raise CommandError(
                "Some headers could not be re-encrypted; see the log above. Run again after fixing the keys."
            )
