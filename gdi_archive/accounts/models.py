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
