from gdi_archive.catalogue import services

from ._steward import StewardCommand


class Command(StewardCommand):
    help = "Add ready files (by accession) to a draft dataset; all or nothing."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("dataset", help="Dataset accession")
        parser.add_argument("files", nargs="+", metavar="FILE", help="File accessions")

    def handle(self, *args, **options):
        dataset = services.add_files_to_dataset(
            actor=self.actor(options), dataset=self.dataset(options["dataset"]), files=options["files"]
        )
        self.stdout.write(f"{dataset.accession} now holds {dataset.files.count()} file(s).")
