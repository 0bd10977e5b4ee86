"""JSON shapes of design.md section 6 for access requests and entitlements."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import AccessRequest, Entitlement
from .selectors import approval_tally


class ApprovalsOut(serializers.Serializer):
    given = serializers.IntegerField(help_text="Approvals in the current round.")
    required = serializers.IntegerField(help_text="Approvals the DAC needs.")


class AttachmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()


class EventOut(serializers.Serializer):
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
        fields = ["id", "user", "dataset", "start", "end", "status", "granted_by", "granted_at",
                  "revoked_at", "revoked_by", "revoke_reason", "access_request"]


class AccessRequestSerializer(serializers.ModelSerializer):
    applicant = serializers.CharField(source="applicant.username")
    dac = serializers.CharField(source="dac.accession")
    datasets = serializers.SerializerMethodField()
    approvals = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    entitlements = EntitlementSerializer(many=True, read_only=True)

    class Meta:
        model = AccessRequest
        fields = ["id", "status", "applicant", "dac", "datasets", "title", "purpose", "institution", "duo",
                  "created_at", "submitted_at", "decided_at", "approvals", "attachments", "events", "entitlements"]

    def get_datasets(self, obj) -> list[str]:
        return sorted(d.accession for d in obj.datasets.all())

    @extend_schema_field(ApprovalsOut)
    def get_approvals(self, obj) -> dict[str, int]:
        given, required = approval_tally(obj)
        return {"given": given, "required": required}

    @extend_schema_field(AttachmentOut(many=True))
    def get_attachments(self, obj) -> list[dict]:
        return [{"id": a.id, "name": a.name, "size": a.size, "sha256": a.sha256} for a in obj.attachments.all()]

    @extend_schema_field(EventOut(many=True))
    def get_events(self, obj) -> list[dict]:
        return [{"at": serializers.DateTimeField().to_representation(e.at), "kind": e.kind,
                 "actor": e.actor.username if e.actor else None, "comment": e.comment}
                for e in obj.events.select_related("actor")]


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
    end = serializers.DateField(required=False, help_text="Defaults to (and is capped at) the dataset's maximum period.")
    comment = serializers.CharField(required=False)


class RejectBody(serializers.Serializer):
    reason = serializers.CharField()


class ReturnBody(serializers.Serializer):
    comment = serializers.CharField()


class RevokeBody(serializers.Serializer):
    reason = serializers.CharField(required=False)
