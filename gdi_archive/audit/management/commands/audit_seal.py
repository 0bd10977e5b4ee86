from django.core.management.base import BaseCommand

from gdi_archive.audit.sealing import seal


class Command(BaseCommand):
    help = "Chain the audit events appended since the last seal (the beat job does this every few seconds)."

    def handle(self, *args, **options):
        sealed = seal(wait=True)
        self.stdout.write(self.style.SUCCESS(f"Sealed {sealed} audit events."))
