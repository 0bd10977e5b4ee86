"""The inbox entry as GET /api/inbox shows it (design.md section 6)."""

from rest_framework import serializers

from gdi_archive.catalogue.models import File


class InboxEntryOut(serializers.ModelSerializer):
    name = serializers.CharField(source="inbox_name")
    index_of = serializers.SerializerMethodField(help_text="Name of the data file this index belongs to.")
    sha256 = serializers.SerializerMethodField(help_text="Of the plaintext, once verified.")
    waiting_for_worker = serializers.SerializerMethodField(
        help_text="True while the upload waits for ingestion and no worker consumes the ingest queue "
        "(tell the operator: nothing will happen until one is started)."
    )

    class Meta:
        model = File
        fields = [
            "name",
            "status",
            "bytes_done",
            "bytes_total",
            "error",
            "accession",
            "sha256",
            "index_of",
            "waiting_for_worker",
        ]

    def get_waiting_for_worker(self, file: File) -> bool:
        return file.status == File.Status.UPLOADED and bool(self.context.get("ingest_unconsumed"))

    def get_index_of(self, file: File) -> str | None:
        return file.index_of.name if file.index_of_id else None

    def get_sha256(self, file: File) -> str | None:
        return file.sha256 or None


class PartialUploadOut(serializers.Serializer):
    """An upload sent in parts that is not complete yet (status is always `partial`)."""

    name = serializers.CharField()
    status = serializers.CharField(help_text="`partial`: more parts are expected; nothing is ingested yet.")
    bytes_received = serializers.IntegerField(help_text="Bytes kept so far: the next part starts here.")
    bytes_total = serializers.IntegerField(help_text="TOTAL from the parts' Content-Range.")


class OffsetMismatchOut(serializers.Serializer):
    """409: `Conflict` (the name is already archived) or `UploadOffsetMismatch` (a part), which
    alone carries the offsets."""

    error = serializers.CharField(help_text="Conflict or UploadOffsetMismatch")
    detail = serializers.CharField()
    bytes_received = serializers.IntegerField(
        required=False, help_text="Where the next part must start (also the Upload-Offset header)."
    )
    bytes_total = serializers.IntegerField(required=False, allow_null=True)
