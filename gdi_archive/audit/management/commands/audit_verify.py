from django.core.management.base import BaseCommand, CommandError

from gdi_archive.audit.verify import first_break


class Command(BaseCommand):
    help = "Check the audit log's hash chain; report the first broken link (exit status 1)."

    def handle(self, *args, **options):
        checked, broken = first_break()
        if broken:
            raise CommandError(f"Audit log broken at event {broken.event_id}: {broken.reason}. "
                               f"{checked} events before it are intact.")
        self.stdout.write(self.style.SUCCESS(f"Audit log intact: {checked} events checked."))
