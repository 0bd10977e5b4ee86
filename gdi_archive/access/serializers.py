"""JSON shapes of design.md section 6 for access requests and entitlements."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import duo_match
from .models import AccessRequest, Entitlement, RequestEvent, RequestMember, TermsAcceptance
from .selectors import approval_tally


class ApprovalsOut(serializers.Serializer):
    given = serializers.IntegerField(help_text="Approvals in the current round.")
    required = serializers.IntegerField(help_text="Approvals the DAC needs.")


class AttachmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(allow_blank=True)
    name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()


class DuoIssueOut(serializers.Serializer):
    code = serializers.CharField(help_text="A DUO or MONDO code, or NoIntendedUse / NoDatasetPermission.")
    detail = serializers.CharField()
    dataset = serializers.CharField(allow_blank=True)
    condition = serializers.BooleanField(help_text="A modifier the applicant must meet, not a misfit.")


class DuoMatchOut(serializers.Serializer):
    compatible = serializers.BooleanField()
    issues = DuoIssueOut(many=True)


class MemberOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    username = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    terms_accepted = serializers.BooleanField(help_text="Has accepted every dataset's current terms version.")


def event_out(e) -> dict:
    return {
        "id": e.id,
        "at": serializers.DateTimeField().to_representation(e.at),
        "kind": e.kind,
        "actor": e.actor.username if e.actor else None,
        "comment": e.comment,
    }


class EventOut(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    comment = serializers.CharField(allow_blank=True)


class EntitlementSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.accession")
    user = serializers.CharField(source="user.username")
    granted_by = serializers.CharField(source="granted_by.username", default=None, allow_null=True)
    revoked_by = serializers.CharField(source="revoked_by.username", default=None, allow_null=True)

    class Meta:
        model = Entitlement
        fields = [
            "id",
            "user",
            "dataset",
            "start",
            "end",
            "status",
            "granted_by",
            "granted_at",
            "revoked_at",
            "revoked_by",
            "revoke_reason",
            "access_request",
        ]


class AccessRequestSerializer(serializers.ModelSerializer):
    applicant = serializers.CharField(source="applicant.username")
    dac = serializers.CharField(source="dac.accession")
    datasets = serializers.SerializerMethodField()
    approvals = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    entitlements = EntitlementSerializer(many=True, read_only=True)
    members = serializers.SerializerMethodField()
    duo_match = serializers.SerializerMethodField()
    documents_missing = serializers.SerializerMethodField()
    copied_from = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = AccessRequest
        fields = [
            "id",
            "status",
            "applicant",
            "dac",
            "datasets",
            "title",
            "purpose",
            "institution",
            "duo",
            "created_at",
            "submitted_at",
            "decided_at",
            "approvals",
            "attachments",
            "events",
            "entitlements",
            "members",
            "duo_match",
            "documents_missing",
            "copied_from",
        ]

    def _sees_dac_notes(self, obj) -> bool:
        """Remarks and review requests are for the committee (and operators), never the applicants."""
        user = getattr(self.context.get("request"), "user", None)
        return bool(
            user
            and user.is_authenticated
            and (user.is_superuser or obj.dac.members.filter(pk=user.pk).exists())
            and obj.applicant_id != user.pk
        )

    @extend_schema_field(MemberOut(many=True))
    def get_members(self, obj) -> list[dict]:
        datasets = list(obj.datasets.all())
        out = []
        for m in obj.members.select_related("user"):
            accepted = bool(m.user_id) and all(
                TermsAcceptance.objects.filter(user_id=m.user_id, dataset=d, version=d.terms_version).exists()
                for d in datasets
            )
            out.append(
                {
                    "id": m.id,
                    "email": m.email,
                    "username": m.user.username if m.user else None,
                    "status": m.status,
                    "terms_accepted": accepted and m.status == RequestMember.Status.ACCEPTED,
                }
            )
        return out

    @extend_schema_field(DuoMatchOut)
    def get_duo_match(self, obj) -> dict:
        return duo_match.for_request(obj)

    def get_documents_missing(self, obj) -> list[str]:
        from .services import missing_documents

        return [d["kind"] for d in missing_documents(obj)]

    def get_datasets(self, obj) -> list[str]:
        return sorted(d.accession for d in obj.datasets.all())

    @extend_schema_field(ApprovalsOut)
    def get_approvals(self, obj) -> dict[str, int]:
        given, required = approval_tally(obj)
        return {"given": given, "required": required}

    @extend_schema_field(AttachmentOut(many=True))
    def get_attachments(self, obj) -> list[dict]:
        return [
            {"id": a.id, "kind": a.kind, "name": a.name, "size": a.size, "sha256": a.sha256}
            for a in obj.attachments.all()
        ]

    @extend_schema_field(EventOut(many=True))
    def get_events(self, obj) -> list[dict]:
        return [event_out(e) for e in self.visible_events(obj)]

    def visible_events(self, obj):
        events = obj.events.select_related("actor")
        return events if self._sees_dac_notes(obj) else events.exclude(kind__in=RequestEvent.DAC_ONLY)


# Request bodies: the API views read input through these (and OpenAPI shows them); the services
# check the values again, for the pages, the admin and the commands that call them too.
class NewAccessRequestBody(serializers.Serializer):
    datasets = serializers.ListField(child=serializers.CharField(), help_text="Dataset accessions, all of one DAC.")
    title = serializers.CharField()
    purpose = serializers.CharField()
    institution = serializers.CharField(required=False)
    duo = serializers.ListField(child=serializers.CharField(), required=False, help_text='e.g. ["DUO:0000042"]')
    accept_terms = serializers.BooleanField(help_text="Must be true: accepts each dataset's current terms version.")


class CommentBody(serializers.Serializer):
    comment = serializers.CharField(required=False)


class ApproveBody(serializers.Serializer):
    end = serializers.DateField(
        required=False, help_text="Defaults to the dataset's longest period; past it is 400, never cut."
    )
    comment = serializers.CharField(required=False)


class RejectBody(serializers.Serializer):
    reason = serializers.CharField()


class ReturnBody(serializers.Serializer):
    comment = serializers.CharField()


class MemberBody(serializers.Serializer):
    email = serializers.EmailField()


class AcceptInvitationBody(serializers.Serializer):
    accept_terms = serializers.BooleanField(help_text="Must be true: accepts each dataset's current terms version.")


class CopyBody(serializers.Serializer):
    accept_terms = serializers.BooleanField(help_text="Must be true: the terms are accepted again for the copy.")


class RemarkBody(serializers.Serializer):
    comment = serializers.CharField()


class AttachmentBody(serializers.Serializer):
    kind = serializers.CharField(required=False, help_text="One of the DAC's required_documents kinds.")
    file = serializers.FileField(help_text="A PDF.")


class RevokeBody(serializers.Serializer):
    reason = serializers.CharField(required=False)


class BlockBody(serializers.Serializer):
    """A DAC blocks one person: a local user, or an external identity (iss + sub)."""

    user = serializers.CharField(required=False, allow_blank=True, max_length=150, help_text="A local username.")
    iss = serializers.CharField(required=False, allow_blank=True, max_length=255, help_text="The identity's issuer.")
    sub = serializers.CharField(required=False, allow_blank=True, max_length=255, help_text="Its subject there.")
    reason = serializers.CharField(max_length=20000)


class BlockOut(serializers.Serializer):
    id = serializers.IntegerField()
    dac = serializers.CharField(source="dac.accession")
    user = serializers.SerializerMethodField()
    iss = serializers.CharField(source="issuer")
    sub = serializers.CharField(source="subject")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.SerializerMethodField()
    active = serializers.BooleanField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_user(self, obj):
        return obj.user.get_username() if obj.user_id else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, obj):
        return obj.created_by.get_username() if obj.created_by_id else None
