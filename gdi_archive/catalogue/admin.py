"""Admin for DACs and datasets.

Stewards and superusers see and manage everything; every change goes through `services`.
A DAC member (staff because of their membership) sees only their own DACs and those DACs'
datasets, read-only: the querysets are filtered, so another DAC's dataset is simply not there.
`catalogue.File` is registered by the ingest app. The forms live in `admin_forms`.
"""

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Sum
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat

from gdi_archive.accounts.permissions import is_admin_dac_member, is_admin_steward, is_operator
from gdi_archive.common.admin import ReadOnlyAdminMixin
from gdi_archive.common.errors import ArchiveError

from . import services
from .admin_forms import METADATA_FORM_FIELDS, DACForm, DatasetForm, file_accessions, form_metadata
from .duo import TERMS, describe
from .models import DAC, Dataset


class StewardOnlyAdmin(admin.ModelAdmin):
    """Stewards manage; DAC members may look at their own committee's objects; nobody deletes."""

    def has_module_permission(self, request):
        return is_admin_steward(request.user) or is_admin_dac_member(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return is_admin_steward(request.user)

    def has_change_permission(self, request, obj=None):
        return is_admin_steward(request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def _refuse(self, request, error: ArchiveError) -> None:
        self.message_user(request, error.detail, messages.ERROR)

    def response_add(self, request, obj, post_url_continue=None):
        """A service that refused at the last moment (a race the form could not see): stay on the form."""
        if obj.pk is None:
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    def log_addition(self, request, obj, message):
        if obj.pk is not None:
            return super().log_addition(request, obj, message)
        return None


# --- DACs ----------------------------------------------------------------------------------------


@admin.register(DAC)
class DACAdmin(StewardOnlyAdmin):
    form = DACForm
    list_display = ["accession", "name", "contact_email", "member_names", "dataset_count"]
    search_fields = ["accession", "name", "members__username"]
    readonly_fields = ["accession", "member_names"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).annotate(dataset_total=Count("datasets", distinct=True))
        if is_admin_steward(request.user):
            return queryset
        return queryset.filter(members=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "description", "contact_email", "required_documents"]
        if not self.has_change_permission(request, obj):
            return ["accession", "name", "description", "contact_email", "required_documents", "member_names"]
        if not (is_operator(request.user) or obj.members.filter(pk=request.user.pk).exists()):
            # Separation of duties: only an operator or a member of this DAC changes its members.
            return ["accession", "name", "description", "contact_email", "required_documents", "member_names"]
        return [
            "accession",
            "name",
            "description",
            "contact_email",
            "required_documents",
            "member_names",
            "add_member",
            "remove_member",
        ]

    def get_readonly_fields(self, request, obj=None):
        return ["accession", "member_names", "name"] if obj else []

    @admin.display(description="members")
    def member_names(self, dac):
        return ", ".join(dac.members.values_list("username", flat=True)) or "—"

    @admin.display(description="datasets", ordering="dataset_total")
    def dataset_count(self, dac):
        return getattr(dac, "dataset_total", None) or dac.datasets.count()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if not change:
                created = services.create_dac(
                    actor=request.user,
                    name=data["name"],
                    request=request,
                    description=data.get("description", ""),
                    contact_email=data.get("contact_email", ""),
                    required_documents=data.get("required_documents") or [],
                )
                obj.pk, obj.accession = created.pk, created.accession
                return
            services.update_dac(
                actor=request.user,
                dac=obj,
                description=data.get("description", ""),
                contact_email=data.get("contact_email", ""),
                required_documents=data.get("required_documents") or [],
                request=request,
            )
            if data.get("add_member"):
                services.add_dac_member(actor=request.user, dac=obj, username=data["add_member"], request=request)
            if data.get("remove_member"):
                services.remove_dac_member(actor=request.user, dac=obj, username=data["remove_member"], request=request)
        except ArchiveError as error:
            self._refuse(request, error)

    def save_related(self, request, form, formsets, change):
        """Members change only through the services above."""


# --- datasets ------------------------------------------------------------------------------------


class FileInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The dataset's files, read-only (add them with the form field or the API)."""

    model = Dataset.files.through
    extra = 0
    verbose_name = "file"
    verbose_name_plural = "files"
    fields = ["accession", "name", "file_format", "status", "size", "indexed"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("file").order_by("file__accession")

    @admin.display(description="accession")
    def accession(self, row):
        return row.file.accession

    @admin.display(description="name")
    def name(self, row):
        return row.file.name

    @admin.display(description="format")
    def file_format(self, row):
        return row.file.format

    @admin.display(description="status")
    def status(self, row):
        return row.file.status

    @admin.display(description="size")
    def size(self, row):
        return filesizeformat(row.file.plaintext_size or 0)

    @admin.display(description="index", boolean=True)
    def indexed(self, row):
        return row.file.has_index


@admin.register(Dataset)
class DatasetAdmin(StewardOnlyAdmin):
    form = DatasetForm
    list_display = ["accession", "title", "dac", "status", "file_count", "total_size", "released_at"]
    list_filter = ["status", "dac"]
    search_fields = ["accession", "title", "description", "files__accession", "files__name"]
    list_select_related = ["dac"]
    inlines = [FileInline]
    actions = ["release", "withdraw"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                file_total=Count("files", distinct=True),
                size_total=Sum("files__plaintext_size"),
            )
        )
        if is_admin_steward(request.user):
            return queryset
        return queryset.filter(dac__members=request.user)

    def get_list_filter(self, request):
        return ["status", "dac"] if is_admin_steward(request.user) else ["status"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        return actions if is_admin_steward(request.user) else {}

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "title",
                "description",
                "dac",
                "duo_codes",
                "terms_url",
                "terms_text",
                "max_access_days",
                *METADATA_FORM_FIELDS,
            ]
        fields = [
            "accession",
            "status",
            "title",
            "description",
            "dac",
            "duo_terms",
            "terms_url",
            "terms_text",
            "terms_version",
            "max_access_days",
            "released_at",
        ]
        if self.has_change_permission(request, obj):
            fields[fields.index("duo_terms")] = "duo_codes"
            if obj.status == Dataset.Status.DRAFT:
                fields.append("add_files")
            fields += METADATA_FORM_FIELDS
        else:
            fields.append("metadata_summary")
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["accession", "status", "dac", "terms_version", "released_at", "duo_terms", "metadata_summary"]
        if not self.has_change_permission(request, obj):
            readonly += ["title", "description", "terms_url", "terms_text", "max_access_days"]
        return readonly

    @admin.display(description="files", ordering="file_total")
    def file_count(self, dataset):
        return dataset.file_total

    @admin.display(description="size", ordering="size_total")
    def total_size(self, dataset):
        return filesizeformat(dataset.size_total or 0)

    @admin.display(description="FAIR Data Point metadata")
    def metadata_summary(self, dataset):
        return "; ".join(f"{key}: {value}" for key, value in (dataset.metadata or {}).items()) or "node defaults"

    @admin.display(description="DUO terms")
    def duo_terms(self, dataset):
        return "; ".join(describe(code) for code in dataset.duo) or "—"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {key: data.get(key) for key in ("title", "description", "terms_url", "terms_text", "max_access_days")}
        try:
            if not change:
                created = services.create_dataset(
                    actor=request.user,
                    dac=data["dac"].accession,
                    duo=data.get("duo_codes"),
                    metadata=form_metadata(data, {}),
                    request=request,
                    **fields,
                )
                obj.pk, obj.accession = created.pk, created.accession
                return
            # Keep MONDO ids (set through the API) that the checkboxes cannot show.
            duo = list(data.get("duo_codes") or []) + [code for code in obj.duo if code not in TERMS]
            previous = Dataset.objects.get(pk=obj.pk).metadata
            services.update_dataset(
                actor=request.user,
                dataset=obj,
                duo=duo,
                request=request,
                metadata=form_metadata(data, previous),
                **fields,
            )
            if file_accessions(data.get("add_files")):
                services.add_files_to_dataset(
                    actor=request.user, dataset=obj, files=file_accessions(data["add_files"]), request=request
                )
        except ArchiveError as error:
            self._refuse(request, error)

    def save_related(self, request, form, formsets, change):
        """Files change only through add_files_to_dataset; the inline is for reading."""
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def _each(self, request, queryset, action, done: str):
        for dataset in queryset:
            try:
                action(actor=request.user, dataset=dataset, request=request)
                self.message_user(request, f"{dataset.accession} {done}.", messages.SUCCESS)
            except ArchiveError as error:
                self._refuse(request, error)

    @admin.action(description="Release the selected datasets")
    def release(self, request, queryset):
        self._each(request, queryset, services.release_dataset, "released")

    @admin.action(description="Withdraw the selected datasets")
    def withdraw(self, request, queryset):
        self._each(request, queryset, services.withdraw_dataset, "withdrawn")
