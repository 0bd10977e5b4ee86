"""An append-only, hash-chained log of everything that matters for accountability."""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One event. Appended unsealed (`content_hash` covers its own fields); the sealer then gives
    it its place in the chain (`seq`) and `hash`, which covers the previous event's hash, this
    event's id and its content hash, so edits, deletions, insertions and reordering show."""

    at = models.DateTimeField(db_index=True)
    # No database constraint: the event's actor_name is the record, and the check would cost
    # every append a lookup and a share lock on the user's row (Django still sets it to NULL
    # when the user is deleted).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    actor_name = models.CharField(max_length=255, blank=True, help_text="Kept even if the user is deleted.")
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="sha256 of this event's own fields (empty on events written before sealing existed).",
    )
    seq = models.BigIntegerField(null=True, blank=True, help_text="Place in the chain; empty until sealed.")
    previous_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The sealer's work list: stays as small as the events of the last few seconds.
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_event_unsealed"),
            # Plain B-trees: no LIKE (varchar_pattern_ops) copies, which no lookup here uses and
            # every append had to write.
            models.Index(fields=["action"], name="audit_event_action"),
            models.Index(fields=["target_id"], name="audit_event_target_id"),
        ]
        constraints = [
            # Unique once sealed; an append (NULL here) writes neither index.
            models.UniqueConstraint(fields=["seq"], condition=models.Q(seq__isnull=False), name="audit_event_seq"),
            models.UniqueConstraint(fields=["hash"], condition=models.Q(hash__isnull=False), name="audit_event_hash"),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.target_type}:{self.target_id}"
