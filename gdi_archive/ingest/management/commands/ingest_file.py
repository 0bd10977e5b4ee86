"""Ingest a local Crypt4GH file, as if uploaded, with a progress bar in the terminal."""

import os
import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gdi_archive.common.errors import ArchiveError

from ...services import ingest_local_file


class _Bar:
    def __init__(self, total: int, stream):
        self.total, self.stream, self.last = max(total, 1), stream, 0.0

    def __call__(self, stage: str, done: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and done < self.total:
            return
        self.last = now
        width = 30
        filled = min(width, width * done // self.total)
        self.stream.write(
            f"\r{stage:>7} [{'#' * filled}{'.' * (width - filled)}] {100 * done // self.total:3d}% "
            f"{done / 2**20:,.1f} MiB"
        )
        self.stream.flush()


class Command(BaseCommand):
    help = "Copy a local Crypt4GH file into the inbox and ingest it (verify, archive, give an accession)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .c4gh file, encrypted to the archive's public key.")
        parser.add_argument("--user", help="Submitter's username (default: the first superuser).")
        parser.add_argument("--name", help="Inbox name (default: the file's name).")
        parser.add_argument("--sha256", help="Expected SHA-256 of the plaintext.")
        parser.add_argument("--md5", help="Expected MD5 of the plaintext.")
        parser.add_argument(
            "--queue", action="store_true", help="Hand the ingest to the Celery workers instead of running it here."
        )

    def handle(self, *args, path, user=None, name=None, sha256=None, md5=None, queue=False, **options):
        users = get_user_model().objects
        submitter = (
            users.filter(username=user).first() if user else users.filter(is_superuser=True).order_by("id").first()
        )
        if submitter is None:
            raise CommandError(f"No user {user!r}." if user else "No superuser exists; give --user.")
        bar = _Bar(os.path.getsize(path) if os.path.isfile(path) else 1, sys.stderr) if sys.stderr.isatty() else None
        try:
            file = ingest_local_file(
                path=path, submitter=submitter, name=name, sha256=sha256, md5=md5, run_now=not queue, progress=bar
            )
        except ArchiveError as exc:
            raise CommandError(exc.detail) from exc
        if bar:
            sys.stderr.write("\n")
        if file.status == file.Status.ERROR:
            raise CommandError(f"{file.inbox_name}: {file.error}")
        self.stdout.write(
            self.style.SUCCESS(f"{file.inbox_name}: {file.status} {file.accession or ''} sha256 {file.sha256 or '-'}")
        )
