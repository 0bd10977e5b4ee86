from gdi_archive.catalogue import services

from ._steward import StewardCommand


class Command(StewardCommand):
    help = "Add a user to a DAC (they become staff and see that DAC's objects in the admin)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("dac", help="DAC accession")
        parser.add_argument("username")
        parser.add_argument("--remove", action="store_true", help="Remove the member instead.")

    def handle(self, *args, **options):
        action = services.remove_dac_member if options["remove"] else services.add_dac_member
        dac = action(actor=self.actor(options), dac=self.dac(options["dac"]), username=options["username"])
        self.stdout.write(
            f"{dac.accession}: {', '.join(dac.members.values_list('username', flat=True)) or 'no members'}"
        )
