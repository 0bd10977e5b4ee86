"""Access: requests, DAC decisions, entitlements (what a DAC granted) and terms acceptances.

State changes happen only in `services.py`; these models hold the record.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EntitlementQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The holder's own, and for a DAC member those of their DAC's datasets."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(Q(user=user) | Q(dataset__dac__members=user)).distinct()

    def live(self, at=None):
        """Active, started and not yet ended: the only entitlements that open data."""
        now = at or timezone.now()
        return self.filter(status=Entitlement.Status.ACTIVE, start__lte=now).filter(
            Q(end__isnull=True) | Q(end__gt=now)
        )


class Entitlement(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        REVOKED = "revoked", _("revoked")
        EXPIRED = "expired", _("expired")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entitlements")
    dataset = models.ForeignKey("catalogue.Dataset", on_delete=models.PROTECT, related_name="entitlements")
    start = models.DateTimeField(default=timezone.now)
    end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.TextField(blank=True)
    access_request = models.ForeignKey(
        "access.AccessRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="entitlements"
    )
    reminder_sent_at = models.DateTimeField(null=True, blank=True, help_text="When the holder was told it ends soon.")

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


class AccessRequestQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The applicant's own and those they joined as a co-applicant; a DAC member's committee's
        once submitted (drafts stay private)."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.exclude(~Q(applicant=user) & Q(status=AccessRequest.Status.DRAFT))
        mine = Q(applicant=user) | Q(members__user=user, members__status="accepted")
        committee = Q(dac__members=user) & ~Q(status=AccessRequest.Status.DRAFT)
        return self.filter(mine | committee).distinct()

    def open(self):
        return self.filter(status__in=AccessRequest.OPEN_STATES)


class AccessRequest(models.Model):
    """An application to a DAC for one or more of its datasets."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        RETURNED = "returned", _("returned")
        WITHDRAWN = "withdrawn", _("withdrawn")

    OPEN_STATES = (Status.DRAFT, Status.SUBMITTED, Status.RETURNED)
    EDITABLE_STATES = (Status.DRAFT, Status.RETURNED)

    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_requests")
    dac = models.ForeignKey("catalogue.DAC", on_delete=models.PROTECT, related_name="access_requests")
    datasets = models.ManyToManyField("catalogue.Dataset", related_name="access_requests")
    title = models.CharField(_("project title"), max_length=300)
    purpose = models.TextField(_("research purpose"))
    institution = models.CharField(_("institution"), max_length=300, blank=True)
    duo = models.JSONField(_("intended use (DUO terms)"), default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    # Incremented on each submission; only approvals of the current round count to the quorum.
    round = models.PositiveIntegerField(default=0)
    language = models.CharField(max_length=8, default="en", help_text="The applicant's language for emails.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    copied_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies")

    objects = AccessRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("access request")
        verbose_name_plural = _("access requests")

    def __str__(self):
        return f"#{self.pk} {self.title} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATES

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATES


class RequestEvent(models.Model):
    """One line of a request's timeline: a change of state, a vote or a comment."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        EDITED = "edited", _("edited")
        SUBMITTED = "submitted", _("submitted")
        APPROVAL = "approval", _("approval recorded")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        RETURNED = "returned", _("returned")
        WITHDRAWN = "withdrawn", _("withdrawn")
        COMMENT = "comment", _("comment")
        ATTACHMENT = "attachment", _("attachment added")
        REMARK = "remark", _("remark")
        MEMBER_INVITED = "member_invited", _("member invited")
        MEMBER_JOINED = "member_joined", _("member joined")
        MEMBER_REMOVED = "member_removed", _("member removed")
        REVIEW_ASKED = "review_asked", _("review asked")

    # Notes among the committee: never shown to the applicant or co-applicants.
    DAC_ONLY = (Kind.REMARK, Kind.REVIEW_ASKED)

    access_request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    comment = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]


class Decision(models.Model):
    """A DAC member's verdict on one submission round: who, when, why."""

    class Verdict(models.TextChoices):
        APPROVE = "approve", _("approve")
        REJECT = "reject", _("reject")
        RETURN = "return", _("return")

    access_request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="decisions")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    round = models.PositiveIntegerField()
    comment = models.TextField(blank=True)
    end = models.DateTimeField(null=True, blank=True, help_text="Approval only: the end asked for.")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["access_request", "member", "round"], name="one_decision_per_member_per_round"
            ),
        ]


class Attachment(models.Model):
    """A PDF the applicant added (an ethics approval...). Stored privately, never under a public URL."""

    access_request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="attachments")
    kind = models.SlugField(max_length=50, blank=True, help_text="One of the DAC's required_documents kinds, or empty.")
    name = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    location = models.CharField(max_length=300, help_text="Path inside the private attachments folder.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return self.name


class RequestMember(models.Model):
    """A co-applicant: invited by email, joins by accepting with the emailed token while signed in."""

    class Status(models.TextChoices):
        INVITED = "invited", _("invited")
        ACCEPTED = "accepted", _("accepted")
        REMOVED = "removed", _("removed")

    access_request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="members")
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="co_applications"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED, db_index=True)
    # Only a SHA-256 of the token: the token itself exists only in the invitation email.
    token_sha256 = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    invited_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invited_at", "id"]

    def __str__(self):
        return f"{self.email} ({self.status})"


class Submission(models.Model):
    """The fields as they were at one submission, so the DAC sees what changed after a return."""

    access_request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="submissions")
    round = models.PositiveIntegerField()
    fields = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["round", "id"]
        constraints = [models.UniqueConstraint(fields=["access_request", "round"], name="one_snapshot_per_round")]


class DACBlock(models.Model):
    """A DAC's block of one person for its datasets: it overrides every grant (our entitlements
    and brokers' visas) while it stands. The person is a local user (which also covers the
    external identities linked to them) or an external identity by (issuer, subject)."""

    dac = models.ForeignKey("catalogue.DAC", on_delete=models.CASCADE, related_name="blocks")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="dac_blocks"
    )
    issuer = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("DAC block")
        verbose_name_plural = _("DAC blocks")
        indexes = [models.Index(fields=["issuer", "subject"], name="dac_block_identity")]

    def __str__(self):
        who = self.user.get_username() if self.user_id else f"{self.subject} @ {self.issuer}"
        return f"{self.dac.accession}: {who}"

    @property
    def active(self) -> bool:
        return self.lifted_at is None
