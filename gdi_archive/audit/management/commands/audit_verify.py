from django.core.management.base import BaseCommand, CommandError

from gdi_archive.audit.verify import first_break


def _head(value: str) -> tuple[int, str]:
    event_id, _, digest = value.partition(":")
    if not event_id.isdigit() or len(digest) != 64:
        raise CommandError("--head takes ID:HASH, as in the log line 'audit head ID:HASH'.")
    return int(event_id), digest


class Command(BaseCommand):
    help = "Check the audit log's hash chain; report the first broken link (exit status 1)."

    def add_arguments(self, parser):
        parser.add_argument("--head", type=_head, help="ID:HASH of the newest event seen in the log stream "
                                                      "(its 'audit head' lines); finds events deleted from the end.")

    def handle(self, *args, **options):
        checked, broken = first_break(head=options["head"])
        if broken:
            raise CommandError(f"Audit log broken at event {broken.event_id}: {broken.reason}. "
                               f"{checked} events checked.")
        self.stdout.write(self.style.SUCCESS(f"Audit log intact: {checked} events checked."))
