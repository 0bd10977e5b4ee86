"""Passport tokens we issued (by id and hash only) and the API keys brokers use to read visas."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PassportTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class PassportToken(models.Model):
    """A passport token minted for a user. The token itself is never stored: only its `jti`
    (to refuse it once revoked) and a SHA-256 of it (to recognise it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passport_tokens")
    jti = models.CharField(max_length=64, unique=True)
    token_sha256 = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    datasets = models.JSONField(default=list, blank=True, help_text="Accessions granted when it was minted.")

    objects = PassportTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user} {self.jti[:8]}"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class BrokerApiKey(models.Model):
    """Lets a passport broker read `/api/permissions/{user}` (REMS-style). Only a SHA-256 of the
    key is kept; the key is shown once, when it is made in the admin."""

    name = models.CharField(max_length=100, unique=True, help_text="Who holds this key, e.g. the LS-AAI broker.")
    key_prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to tell keys apart.")
    key_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "broker API key"
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"
