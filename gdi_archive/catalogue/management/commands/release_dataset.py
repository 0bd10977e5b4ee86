from gdi_archive.catalogue import services

from ._steward import StewardCommand


class Command(StewardCommand):
    help = "Release a draft dataset (applicants can then find it and request access), or --withdraw it."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("dataset", help="Dataset accession")
        parser.add_argument("--withdraw", action="store_true", help="Withdraw the dataset instead (final).")
        parser.add_argument("--reason", default="", help="Why it is withdrawn (audited).")

    def handle(self, *args, **options):
        actor, dataset = self.actor(options), self.dataset(options["dataset"])
        if options["withdraw"]:
            dataset = services.withdraw_dataset(actor=actor, dataset=dataset, reason=options["reason"])
        else:
            dataset = services.release_dataset(actor=actor, dataset=dataset)
        self.stdout.write(f"{dataset.accession} is {dataset.status}.")
