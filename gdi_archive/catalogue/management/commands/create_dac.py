from django.db import transaction

from gdi_archive.catalogue import services

from ._steward import StewardCommand


class Command(StewardCommand):
    help = "Create a Data Access Committee (and optionally add members). Prints its accession."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("name")
        parser.add_argument("--description", default="")
        parser.add_argument("--contact-email", default="")
        parser.add_argument(
            "--member",
            action="append",
            default=[],
            metavar="USERNAME",
            help="Add this user as a member (repeatable); members become staff.",
        )

    def handle(self, *args, **options):
        actor = self.actor(options)
        with transaction.atomic():  # a member refused (e.g. a steward seating themselves): no DAC either
            dac = services.create_dac(
                actor=actor,
                name=options["name"],
                description=options["description"],
                contact_email=options["contact_email"],
            )
            for username in options["member"]:
                services.add_dac_member(actor=actor, dac=dac, username=username)
        self.stdout.write(dac.accession)
