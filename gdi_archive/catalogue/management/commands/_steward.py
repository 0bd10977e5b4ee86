"""What the stewardship commands share: who acts (audited by name) and one way to report refusals."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gdi_archive.catalogue.models import DAC, Dataset
from gdi_archive.common.errors import ArchiveError


class StewardCommand(BaseCommand):
    """Every change is made in the name of a steward, so the audit log says who did it."""

    def add_arguments(self, parser):
        parser.add_argument(
            "--as",
            dest="actor",
            required=True,
            metavar="USERNAME",
            help="The steward (or superuser) this change is made by; it is audited under their name.",
        )

    def actor(self, options):
        try:
            return get_user_model().objects.get(username=options["actor"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {options['actor']!r}.") from None

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ArchiveError as error:
            raise CommandError(error.detail) from None

    @staticmethod
    def dataset(accession: str) -> Dataset:
        try:
            return Dataset.objects.get(accession=accession)
        except Dataset.DoesNotExist:
            raise CommandError(f"No dataset {accession}.") from None

    @staticmethod
    def dac(accession: str) -> DAC:
        try:
            return DAC.objects.get(accession=accession)
        except DAC.DoesNotExist:
            raise CommandError(f"No DAC {accession}.") from None
