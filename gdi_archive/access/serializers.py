"""JSON shapes of design.md section 6 for access requests and entitlements."""

from rest_framework import serializers

from .models import AccessRequest, Entitlement


class EntitlementSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.accession")
    user = serializers.CharField(source="user.username")
    granted_by = serializers.CharField(source="granted_by.username", default=None)
    revoked_by = serializers.CharField(source="revoked_by.username", default=None)

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

    def get_datasets(self, obj):
        return sorted(d.accession for d in obj.datasets.all())

    def get_approvals(self, obj):
        given = obj.decisions.filter(round=obj.round, verdict="approve").count() if obj.round else 0
        return {"given": given, "required": max(1, obj.dac.required_approvals)}

    def get_attachments(self, obj):
        return [{"id": a.id, "name": a.name, "size": a.size, "sha256": a.sha256} for a in obj.attachments.all()]

    def get_events(self, obj):
        return [{"at": serializers.DateTimeField().to_representation(e.at), "kind": e.kind,
                 "actor": e.actor.username if e.actor else None, "comment": e.comment}
                for e in obj.events.select_related("actor")]
