"""An append-only, hash-chained log of everything that matters for accountability."""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One event. Appended unsealed (`content_hash` covers its own fields); the sealer then gives
    it its place in the chain (`seq`) and `hash`, which covers the previous event's hash, this
    event's id and its content hash, so edits, deletions, insertions and reordering show."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=255, blank=True, help_text="Kept even if the user is deleted.")
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True, db_index=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="sha256 of this event's own fields (empty on events written before sealing existed).",
    )
    seq = models.BigIntegerField(
        null=True, blank=True, unique=True, help_text="Place in the chain; empty until sealed."
    )
    previous_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The sealer's work list: stays as small as the events of the last few seconds.
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_event_unsealed"),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.target_type}:{self.target_id}"
