from django.contrib.auth.models import AbstractUser
from django.db import models

STEWARDS_GROUP = "stewards"


class User(AbstractUser):
    """A person: applicant, DAC member, steward or operator (roles come from groups and DACs)."""

    # Set by a steward; turns into a ResearcherStatus visa (by = "so").
    bona_fide_confirmed_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_steward(self) -> bool:
        if not self.is_active:
            return False
        return self.is_superuser or self.groups.filter(name=STEWARDS_GROUP).exists()


class PublicKey(models.Model):
    """A Crypt4GH public key a user registered; downloads re-encrypt headers to it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="public_keys")
    label = models.CharField(max_length=100, blank=True)
    key = models.CharField(max_length=64, help_text="Base64 of the raw 32-byte X25519 public key.")
    fingerprint = models.CharField(max_length=64, help_text="Hex SHA-256 of the raw key.")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "fingerprint"], name="unique_key_per_user")]

    def __str__(self):
        return f"{self.user} {self.label or self.fingerprint[:16]}"


class ExternalIdentity(models.Model):
    """A sign-in identity at an OIDC provider, linked to a local user by (issuer, subject)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    # What the provider said at the last sign-in, for the DAC to read (never used to grant access):
    # AffiliationAndRole visas (or the eduPerson claim), and whether a ResearcherStatus visa came.
    affiliation = models.CharField(max_length=300, blank=True)
    researcher_status_at = models.DateTimeField(
        null=True, blank=True, help_text="The last sign-in that carried a valid ResearcherStatus visa."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="unique_external_identity")]

    def __str__(self):
        return f"{self.subject} @ {self.issuer}"
