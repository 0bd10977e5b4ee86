from gdi_archive.catalogue import services

from ._steward import StewardCommand


class Command(StewardCommand):
    help = "Create a draft dataset governed by a DAC. Prints its accession."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("title")
        parser.add_argument("--dac", required=True, help="Accession of the governing DAC")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--duo",
            action="append",
            default=[],
            metavar="CODE",
            help="A DUO code such as DUO:0000042 (repeatable; one permission at most).",
        )
        parser.add_argument("--terms-url", default="")
        parser.add_argument("--terms-text", default="")
        parser.add_argument("--max-access-days", type=int, default=None)
        parser.add_argument(
            "--file", action="append", default=[], metavar="ACCESSION", help="Add this ready file at once (repeatable)."
        )

    def handle(self, *args, **options):
        actor = self.actor(options)
        dataset = services.create_dataset(
            actor=actor,
            title=options["title"],
            dac=options["dac"],
            description=options["description"],
            duo=options["duo"],
            terms_url=options["terms_url"],
            terms_text=options["terms_text"],
            max_access_days=options["max_access_days"],
        )
        if options["file"]:
            services.add_files_to_dataset(actor=actor, dataset=dataset, files=options["file"])
        self.stdout.write(dataset.accession)
