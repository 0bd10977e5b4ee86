"""What downloads must remember: headers already served, and export jobs."""

import uuid

from django.conf import settings
from django.db import models


class ServedHeader(models.Model):
    """The Crypt4GH header made for one (file, client key, range), kept for a DRS access URL.

    Downloads no longer need it to give the same bytes on a resume: their headers are derived
    (`services.served_header`). A DRS access URL names its whole-file header by this row's id;
    rows written before headers were derived hold random-nonce headers and keep serving them.
    It is encrypted to the client's public key, so it holds no secret.
    """

    file = models.ForeignKey("catalogue.File", on_delete=models.CASCADE, related_name="served_headers")
    key_fingerprint = models.CharField(max_length=64, help_text="Hex SHA-256 of the client's raw public key.")
    span = models.CharField(max_length=64, help_text='"whole", or "start-end" in plaintext bytes.')
    header = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["file", "key_fingerprint", "span"], name="unique_served_header")]

    def __str__(self):
        return f"{self.file} for {self.key_fingerprint[:12]} ({self.span})"


class Export(models.Model):
    """A request to copy files, re-encrypted for one key, into the outbox."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        EXPIRED = "expired"
        REVOKED = "revoked"  # access ended (revocation, DAC block): the copies were removed; `error` says why

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="exports"
    )
    subject = models.CharField(max_length=255, help_text="Who asked (the token's subject).")
    public_key = models.CharField(max_length=64, help_text="Base64 of the raw 32-byte recipient key.")
    key_fingerprint = models.CharField(max_length=64)
    dataset = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set when access rested on a broker's visas rather than the requester's entitlements here:
    # the links work only until those visas expire (a broker's revocation cannot reach us).
    visa_access_until = models.DateTimeField(null=True, blank=True)
    # Everyone the request spoke for, `{"users": [pk, ...], "keys": [identity key, ...]}`: the
    # local users whose entitlements it rested on (a broker's link may tie the token to one) and
    # the external identities; a revocation or a DAC block of any of them reaches the export.
    people = models.JSONField(default=dict, blank=True)
    # Which worker runs it and when it last said so: a run whose worker died is started again.
    worker = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"export {self.id} ({self.status})"


class ExportFile(models.Model):
    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="items")
    file = models.ForeignKey("catalogue.File", on_delete=models.PROTECT, related_name="+")
    location = models.CharField(max_length=512, blank=True, help_text="Key in the outbox once written.")
    size = models.BigIntegerField(default=0)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["export", "file"], name="unique_export_file")]
