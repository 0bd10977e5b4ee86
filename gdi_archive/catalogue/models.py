"""DACs, datasets and files: what the archive holds and who governs it."""

from django.conf import settings
from django.db import models

from gdi_archive.common.accessions import DAC as DAC_KIND
from gdi_archive.common.accessions import DATASET, FILE, make_accession
from gdi_archive.common.models import TimeStamped


class DAC(TimeStamped):
    """A Data Access Committee: decides who may use the datasets it governs."""

    accession = models.CharField(max_length=32, unique=True, null=True, blank=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="dacs", blank=True)
    # How many members must approve before a request is approved (quorum).
    required_approvals = models.PositiveSmallIntegerField(default=1)
    # The documents a request must (or may) carry: [{"kind": slug, "label": text, "required": bool}].
    required_documents = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "DAC"
        verbose_name_plural = "DACs"
        ordering = ["accession"]

    def __str__(self):
        return f"{self.accession} {self.name}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        if not self.accession:
            self.accession = make_accession(DAC_KIND, self.pk)
            type(self).objects.filter(pk=self.pk).update(accession=self.accession)


class Dataset(TimeStamped):
    class Status(models.TextChoices):
        DRAFT = "draft"
        RELEASED = "released"
        WITHDRAWN = "withdrawn"

    accession = models.CharField(max_length=32, unique=True, null=True, blank=True, editable=False)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    dac = models.ForeignKey(DAC, on_delete=models.PROTECT, related_name="datasets")
    # GA4GH DUO terms: one data-use permission and any modifiers, e.g. ["DUO:0000042"].
    duo = models.JSONField(default=list, blank=True)
    terms_url = models.URLField(blank=True, max_length=255)
    terms_text = models.TextField(blank=True)
    terms_version = models.PositiveIntegerField(default=1)
    max_access_days = models.PositiveIntegerField(default=365)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    released_at = models.DateTimeField(null=True, blank=True)
    files = models.ManyToManyField("File", related_name="datasets", blank=True)
    # What only a person knows for the FAIR Data Point record (design.md 7, "Steward metadata"):
    # publisher, creator, contact_point, health_category, theme, keywords, legal_basis,
    # applicable_legislation, conforms_to, type. Missing keys fall back to the node's defaults.
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["accession"]

    def __str__(self):
        return f"{self.accession} {self.title}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        if not self.accession:
            self.accession = make_accession(DATASET, self.pk)
            type(self).objects.filter(pk=self.pk).update(accession=self.accession)

    @property
    def url(self) -> str:
        """The dataset's identifier in visas (ControlledAccessGrants value)."""
        return f"{settings.BASE_URL}/datasets/{self.accession}"


class File(TimeStamped):
    """A Crypt4GH file from upload to archive.

    It is an inbox entry while it is verified and gets its accession only when it is ready;
    a file that fails keeps its reason in `error` and never reaches the archive store.
    An index (.bai/.crai/.tbi/.csi) is a File too, linked through `index_of`, without an accession.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded"
        VERIFYING = "verifying"
        ARCHIVING = "archiving"
        READY = "ready"
        ERROR = "error"

    class Format(models.TextChoices):
        BAM = "BAM"
        CRAM = "CRAM"
        VCF = "VCF"
        BCF = "BCF"
        BAI = "BAI"
        CRAI = "CRAI"
        TBI = "TBI"
        CSI = "CSI"
        OTHER = "OTHER"

    accession = models.CharField(max_length=32, unique=True, null=True, blank=True, editable=False)
    submitter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploads")
    inbox_name = models.CharField(max_length=255, help_text="The name it was uploaded under.")
    name = models.CharField(max_length=255, help_text="Shown in the catalogue (without .c4gh).")
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.OTHER)
    index_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="indexes")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED, db_index=True)
    error = models.TextField(blank=True)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)

    supplied_sha256 = models.CharField(max_length=64, blank=True)
    supplied_md5 = models.CharField(max_length=32, blank=True)

    plaintext_size = models.BigIntegerField(null=True, blank=True)
    stored_size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the plaintext.")
    md5 = models.CharField(max_length=32, blank=True, help_text="Of the plaintext.")
    stored_sha256 = models.CharField(max_length=64, blank=True, help_text="Of the stored body.")
    header = models.BinaryField(null=True, blank=True, editable=False, help_text="Encrypted to an archive key.")
    archive_key_id = models.CharField(max_length=64, blank=True, help_text="Which archive key opens the header.")
    inbox_location = models.CharField(max_length=512, blank=True)
    location = models.CharField(max_length=512, blank=True, help_text="Key of the body in the archive store.")
    # Sample ids from the plaintext header (VCF sample columns, BAM/CRAM read-group SM), read
    # once the file is ready; null = not read (not a VCF/BAM/CRAM/BCF, or unreadable).
    samples = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["submitter", "inbox_name"], name="unique_inbox_name_per_submitter"),
        ]

    def __str__(self):
        return self.accession or f"{self.inbox_name} ({self.status})"

    @property
    def has_index(self) -> bool:
        return self.indexes.filter(status=File.Status.READY).exists()

    def assign_accession(self) -> str:
        if not self.accession and self.index_of_id is None:
            self.accession = make_accession(FILE, self.pk)
        return self.accession


class FileEvent(models.Model):
    """The history of a file's status: every change, with why."""

    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=File.Status.choices)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
