"""`manage.py bootstrap`: what `make run` does before the server starts. Safe to run every time.

It makes sure the archive's Crypt4GH key and the visa signing keys exist and, outside
production, sets up a demo on first start: four users (passwords printed once, stored only
hashed), a demo DAC and a released demo dataset whose synthetic BAM/VCF files (with their
indexes) go through the real ingest pipeline, encrypted to the archive key first. The demo
dataset's synthetic individuals are uploaded before it is released, so that the Beacon loads its
variants with populations (sex, country) and answers out of the box.
"""

import hashlib
import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gdi_archive.accounts.models import STEWARDS_GROUP
from gdi_archive.catalogue import services as catalogue
from gdi_archive.catalogue.models import DAC, Dataset, File

DEMO_DIR = Path(__file__).resolve().parents[3] / "catalogue" / "demo"
DEMO_USERS = ["applicant", "dac-member", "steward", "admin"]
DEMO_DAC = "Demo DAC"
DEMO_DATASET = "Demo: synthetic sample (BAM and VCF)"
# Data files first, so that each index finds its data file when it is ingested.
DEMO_FILES = ["demo-sample.bam", "demo-variants.vcf.gz", "demo-sample.bam.bai", "demo-variants.vcf.gz.tbi"]
DEMO_DATA_FILES = DEMO_FILES[:2]
DEMO_INDIVIDUALS = "demo-individuals.json"


class Command(BaseCommand):
    help = "Create the archive's keys and, outside production, the demo users, DAC and dataset (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="Only make sure the keys exist.")

    def handle(self, *args, **options):
        self.ensure_keys()
        if settings.PRODUCTION or options["no_demo"]:
            self.stdout.write("Keys are in place; no demo data in production or with --no-demo.")
            return
        users = self.ensure_users()
        dac = self.ensure_dac(actor=users["steward"], operator=users["admin"], member=users["dac-member"])
        dataset = self.ensure_dataset(actor=users["steward"], dac=dac)
        self.stdout.write(
            f"Demo dataset {dataset.accession} ({dataset.status}): "
            f"{', '.join(dataset.files.order_by('accession').values_list('accession', flat=True))}"
        )
        self.report_beacon(dataset)

    # --- keys -------------------------------------------------------------------------------------

    def ensure_keys(self) -> None:
        from gdi_archive.keyring.archive import ensure_archive_keys
        from gdi_archive.passports.keys import ensure_signing_keys
        from gdi_archive.storage import ensure_stores_ready

        ensure_archive_keys()
        ensure_signing_keys()
        ensure_stores_ready()

    # --- users ------------------------------------------------------------------------------------

    def ensure_users(self) -> dict:
        User = get_user_model()
        existing = {user.username: user for user in User.objects.filter(username__in=DEMO_USERS)}
        created: dict[str, str] = {}
        with transaction.atomic():
            stewards, _ = Group.objects.get_or_create(name=STEWARDS_GROUP)
            for username in DEMO_USERS:
                if username in existing:
                    continue
                password = secrets.token_urlsafe(12)
                email = f"{username}@example.org"
                if username == "admin":
                    user = User.objects.create_superuser(username, email, password)
                else:
                    user = User.objects.create_user(username, email, password, is_staff=username == "steward")
                if username == "steward":
                    user.groups.add(stewards)
                existing[username] = user
                created[username] = password
        if created:
            self.print_passwords(created)
        else:
            self.stdout.write(
                f"The demo users exist ({', '.join(DEMO_USERS)}); their passwords were shown on first start. "
                "To set a new one: .venv/bin/python manage.py changepassword <username>"
            )
        return existing

    def print_passwords(self, created: dict[str, str]) -> None:
        """The only place a demo password ever appears: this terminal, once."""
        roles = {
            "applicant": "finds datasets, requests access",
            "dac-member": "decides requests (admin)",
            "steward": "builds and releases datasets",
            "admin": "superuser (operator)",
        }
        rows = [f"{name:<11} {password:<18} {roles[name]}" for name, password in created.items()]
        lines = [
            "Demo users (shown only now; stored hashed, not in clear):",
            "",
            *rows,
            "",
            f"Sign in at {settings.BASE_URL}/ (admin: {settings.BASE_URL}/admin/).",
            "Lost one? .venv/bin/python manage.py changepassword <username>",
        ]
        width = max(len(line) for line in lines)
        self.stdout.write("+" + "-" * (width + 2) + "+")
        for line in lines:
            self.stdout.write(f"| {line:<{width}} |")
        self.stdout.write("+" + "-" * (width + 2) + "+")

    # --- DAC and dataset ------------------------------------------------------------------------------

    def ensure_dac(self, *, actor, operator, member) -> DAC:
        dac = DAC.objects.filter(name=DEMO_DAC).first()
        if dac is None:
            dac = catalogue.create_dac(
                actor=actor,
                name=DEMO_DAC,
                contact_email="dac@example.org",
                description="Decides access to the demo dataset.",
            )
        if not dac.members.filter(pk=member.pk).exists():
            # Seating a member is the operator's call (separation of duties), not the steward's.
            catalogue.add_dac_member(actor=operator, dac=dac, username=member.username)
        return dac

    def ensure_dataset(self, *, actor, dac) -> Dataset:
        dataset = Dataset.objects.filter(title=DEMO_DATASET, dac=dac).first()
        if dataset is not None and dataset.status != Dataset.Status.DRAFT:
            return dataset
        files = {name: self.ingest(name, submitter=actor) for name in DEMO_FILES}
        for name in DEMO_DATA_FILES:
            if not files[name].has_index:
                raise CommandError(f"The demo file {name} was ingested but its index was not linked to it.")
        if dataset is None:
            dataset = catalogue.create_dataset(
                actor=actor,
                title=DEMO_DATASET,
                dac=dac.accession,
                duo=["DUO:0000042", "DUO:0000046"],
                description="A few hundred random reads, and 50 random variants of 30 synthetic people on chr20/chr21. "
                "Synthetic: no data from any person.",
                terms_text="Demo data: use it to try the archive. Do not try to re-identify anyone.",
                max_access_days=30,
                # Synthetic: the one dataset type the GDI shapes allow (real data carries none).
                metadata={
                    "type": "https://publications.europa.eu/resource/authority/dataset-type/SYNTHETIC_DATA",
                    "keywords": ["demo", "synthetic data"],
                },
            )
        missing = [
            files[name].accession for name in DEMO_DATA_FILES if not dataset.files.filter(pk=files[name].pk).exists()
        ]
        if missing:
            catalogue.add_files_to_dataset(actor=actor, dataset=dataset, files=missing)
        self.ensure_individuals(actor=actor, dataset=dataset)
        return catalogue.release_dataset(actor=actor, dataset=dataset)

    def ensure_individuals(self, *, actor, dataset) -> None:
        """The demo VCF's samples as Beacon individuals (the upload queues the variant load)."""
        from gdi_archive.beacon import individuals
        from gdi_archive.beacon.models import Individual

        if Individual.objects.filter(dataset=dataset).exists():
            return
        body = (DEMO_DIR / DEMO_INDIVIDUALS).read_bytes()
        count = individuals.replace_individuals(dataset=dataset, body=body, ndjson=False, actor=actor)
        self.stdout.write(f"Uploaded {count} synthetic individuals for the Beacon.")

    def report_beacon(self, dataset) -> None:
        from gdi_archive.beacon.models import VariantLoad

        loads = list(VariantLoad.objects.filter(dataset=dataset))
        live = sum(load.variants for load in loads if load.live_generation is not None)
        if live:
            self.stdout.write(f"Beacon: {live} demo variants answer at {settings.BASE_URL}/beacon/v2 (see README).")
        elif loads:
            states = ", ".join(sorted({load.status for load in loads}))
            self.stdout.write(f"Beacon: the demo variants are being loaded by the worker ({states}).")

    def ingest(self, name: str, *, submitter) -> File:
        """Encrypt the demo file to the archive key and run it through the real ingest pipeline."""
        from gdi_archive.crypt4gh.segments import encrypt_stream
        from gdi_archive.ingest.services import ingest_local_file
        from gdi_archive.keyring.archive import current_public_key

        inbox_name = f"{name}.c4gh"
        done = File.objects.filter(submitter=submitter, inbox_name=inbox_name, status=File.Status.READY).first()
        if done is not None:
            return done
        plain = (DEMO_DIR / name).read_bytes()
        with tempfile.TemporaryDirectory(prefix="gdi-demo-") as folder:
            path = Path(folder) / inbox_name
            with open(path, "wb") as out:
                for chunk in encrypt_stream([plain], [current_public_key()]):
                    out.write(chunk)
            file = ingest_local_file(
                path=path, submitter=submitter, name=inbox_name, sha256=hashlib.sha256(plain).hexdigest()
            )
        if file.status != File.Status.READY:
            raise CommandError(f"Ingesting the demo file {name} failed: {file.error or file.status}")
        self.stdout.write(f"Ingested {name} ({len(plain)} bytes) as {file.accession or 'an index'}.")
        return file
