from django.core.management.base import BaseCommand, CommandError

from gdi_archive.audit.verify import check


def _head(value: str) -> tuple[int, str]:
    event_id, _, digest = value.partition(":")
    if not event_id.isdigit() or len(digest) != 64:
        raise CommandError("--head takes ID:HASH, as in the log line 'audit head ID:HASH'.")
    return int(event_id), digest


class Command(BaseCommand):
    help = (
        "Seal what is committed, then check the audit log's hash chain; report the first broken link (exit status 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--head",
            type=_head,
            help="ID:HASH of the newest event seen in the log stream "
            "(its 'audit head' lines); finds events deleted from the end.",
        )

    def handle(self, *args, **options):
        report = check(head=options["head"])
        pending = f" ({report.unsealed} appended while checking, not sealed yet)" if report.unsealed else ""
        if report.broken:
            raise CommandError(
                f"Audit log broken at event {report.broken.event_id}: {report.broken.reason}. "
                f"{report.checked} events checked."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit log intact: {report.checked} events checked{pending}."))
