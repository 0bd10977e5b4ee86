"""JSON shapes of the catalogue (design.md sections 4 and 6). Input is only shape-checked here;
the rules live in services.py, so the API, the admin and the commands refuse the same things."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import DAC, Dataset, File

# --- input --------------------------------------------------------------------------------------


class RequiredDocumentIO(serializers.Serializer):
    kind = serializers.CharField(help_text="A slug the DAC chooses, e.g. ethics-approval.")
    label = serializers.CharField(help_text="What the applicant sees.")
    required = serializers.BooleanField(default=True)


class DACInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    contact_email = serializers.CharField(required=False, allow_blank=True, default="")
    required_documents = serializers.JSONField(
        required=False, default=list, help_text='[{"kind", "label", "required"}] (checked by the service)'
    )


class DACChangeInput(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    contact_email = serializers.CharField(required=False, allow_blank=True)
    required_documents = serializers.JSONField(required=False, help_text='[{"kind", "label", "required"}]')


class MemberInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class DatasetInput(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    dac = serializers.CharField(max_length=32)
    duo = serializers.ListField(child=serializers.CharField(max_length=32), required=False, default=list)
    terms_url = serializers.CharField(required=False, allow_blank=True, default="")
    terms_text = serializers.CharField(required=False, allow_blank=True, default="")
    max_access_days = serializers.IntegerField(required=False, allow_null=True, default=None)
    metadata = serializers.DictField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Steward metadata for the FAIR Data Point record (design.md 7).",
    )


class DatasetPatchInput(serializers.Serializer):
    """Only the fields given change; `metadata` keys given replace those keys (null: back to the node default)."""

    title = serializers.CharField(max_length=300, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    duo = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    terms_url = serializers.CharField(required=False, allow_blank=True)
    terms_text = serializers.CharField(required=False, allow_blank=True)
    max_access_days = serializers.IntegerField(required=False)
    metadata = serializers.DictField(required=False)


class WithdrawInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class FilesInput(serializers.Serializer):
    files = serializers.ListField(child=serializers.CharField(max_length=32), allow_empty=False)


# --- output -------------------------------------------------------------------------------------


class DACOut(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")

    class Meta:
        model = DAC
        fields = ["accession", "name", "description", "contact_email", "members", "required_documents", "created_at"]


class FileOut(serializers.ModelSerializer):
    """A file as an authorised user sees it: sizes and digests are of the plaintext."""

    size = serializers.IntegerField(source="plaintext_size")
    has_index = serializers.SerializerMethodField()

    class Meta:
        model = File
        fields = ["accession", "name", "size", "sha256", "format", "has_index"]

    def get_has_index(self, file) -> bool:
        annotated = getattr(file, "has_ready_index", None)
        return bool(annotated) if annotated is not None else file.has_index


class DatasetSummaryOut(serializers.ModelSerializer):
    """A dataset the token grants: its size is the plaintext bytes of its data files. The listing's
    schema; the view sends `selectors.dataset_summaries`' rows, which have this shape."""

    file_count = serializers.IntegerField()
    size = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["accession", "title", "file_count", "size"]

    def get_size(self, dataset) -> int:
        return dataset.size or 0


class DatasetOut(serializers.ModelSerializer):
    """A dataset as its steward sees it, files included."""

    dac = serializers.SlugRelatedField(read_only=True, slug_field="accession")
    files = serializers.SerializerMethodField()
    file_count = serializers.SerializerMethodField()
    size = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "accession",
            "title",
            "description",
            "dac",
            "duo",
            "terms_url",
            "terms_text",
            "terms_version",
            "max_access_days",
            "status",
            "released_at",
            "created_at",
            "metadata",
            "file_count",
            "size",
            "files",
        ]

    def _files(self, dataset):
        from .selectors import dataset_files

        if not hasattr(dataset, "_files_cache"):
            dataset._files_cache = list(dataset_files(dataset))
        return dataset._files_cache

    @extend_schema_field(FileOut(many=True))
    def get_files(self, dataset) -> list[dict]:
        return FileOut(self._files(dataset), many=True).data

    def get_file_count(self, dataset) -> int:
        return len(self._files(dataset))

    def get_size(self, dataset) -> int:
        return sum(f.plaintext_size or 0 for f in self._files(dataset))
