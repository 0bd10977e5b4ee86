"""Access: entitlements (what a DAC granted) and terms acceptances. Requests are added here too."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EntitlementQuerySet(models.QuerySet):
    def live(self, at=None):
        """Active, started and not yet ended: the only entitlements that open data."""
        now = at or timezone.now()
        return self.filter(status=Entitlement.Status.ACTIVE, start__lte=now).filter(Q(end__isnull=True) | Q(end__gt=now))


class Entitlement(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"
        EXPIRED = "expired"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entitlements")
    dataset = models.ForeignKey("catalogue.Dataset", on_delete=models.PROTECT, related_name="entitlements")
    start = models.DateTimeField(default=timezone.now)
    end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoke_reason = models.TextField(blank=True)

    objects = EntitlementQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at"]

    def __str__(self):
        return f"{self.user} → {self.dataset.accession} ({self.status})"


class TermsAcceptance(models.Model):
    """A user accepted a version of a dataset's terms (an AcceptedTermsAndPolicies visa, by = self)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terms_acceptances")
    dataset = models.ForeignKey("catalogue.Dataset", on_delete=models.CASCADE, related_name="terms_acceptances")
    version = models.PositiveIntegerField()
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "dataset", "version"], name="unique_terms_acceptance")]
