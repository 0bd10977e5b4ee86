"""Admin for DACs and datasets.

Stewards and superusers see and manage everything; every change goes through services.py.
A DAC member (staff because of their membership) sees only their own DACs and those DACs'
datasets, read-only: the querysets are filtered, so another DAC's dataset is simply not there.
`catalogue.File` is registered by the ingest app.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Count, Sum
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat

from gdi_archive.accounts.permissions import is_admin_dac_member, is_admin_steward, is_operator
from gdi_archive.common.admin import ReadOnlyAdminMixin
from gdi_archive.common.errors import ArchiveError, InvalidInput

from . import services
from .duo import TERMS, describe
from .models import DAC, Dataset


def _accessions(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


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


class DACForm(forms.ModelForm):
    add_member = forms.CharField(required=False, help_text="Username of a person to add to this DAC (becomes staff).")
    remove_member = forms.CharField(required=False, help_text="Username of a member to remove.")

    class Meta:
        model = DAC
        fields = ["name", "description", "contact_email", "required_documents"]
        help_texts = {
            "required_documents": "The documents a request form asks for, e.g. "
            '[{"kind": "ethics-approval", "label": "Ethics approval", "required": true}].'
        }

    def clean_name(self):
        name = (self.cleaned_data.get("name") or "").strip()
        if not self.instance.pk and DAC.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(f"A DAC named {name!r} already exists.")
        return name

    def _username(self, field):
        username = (self.cleaned_data.get(field) or "").strip()
        if username and not get_user_model().objects.filter(username=username, is_active=True).exists():
            raise forms.ValidationError(f"No active user named {username!r}.")
        return username

    def clean_add_member(self):
        return self._username("add_member")

    def clean_remove_member(self):
        return self._username("remove_member")


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


GDI = "http://data.gdi.eu/core/p2/"
HEALTH_CATEGORIES = [
    (f"{GDI}HealthCategoryHumanGenomic", "Human genomic data"),
    (f"{GDI}HealthCategoryHumanGenetic", "Human genetic data"),
    (f"{GDI}HealthCategoryHumanEpigenomic", "Human epigenomic data"),
]
CONFORMS_TO = [
    (f"{GDI}ExternallyGoverned", "Externally governed"),
    (f"{GDI}1MGCompliant", "1+MG compliant"),
    (f"{GDI}1MGCohort", "1+MG cohort"),
]
LEGAL_BASES = [
    (f"https://w3id.org/dpv#{name}", label)
    for name, label in (
        ("Consent", "Consent"),
        ("Contract", "Contract"),
        ("LegalObligation", "Legal obligation"),
        ("VitalInterest", "Vital interest"),
        ("LegitimateInterest", "Legitimate interest"),
        ("PublicInterest", "Public interest"),
        ("OfficialAuthorityOfController", "Official authority of the controller"),
    )
]
SYNTHETIC = "https://publications.europa.eu/resource/authority/dataset-type/SYNTHETIC_DATA"
AGENT_FIELDS = ("publisher", "creator", "contact_point")


def _metadata_fields():
    """The steward metadata of the FAIR Data Point record as form fields (empty = node default)."""
    fields = {}
    for agent in AGENT_FIELDS:
        label = agent.replace("_", " ")
        fields[f"md_{agent}_name"] = forms.CharField(
            required=False, label=f"{label}: name", help_text="Empty: the node's publisher (FDP_PUBLISHER_NAME)."
        )
        fields[f"md_{agent}_email"] = forms.EmailField(required=False, label=f"{label}: email")
        fields[f"md_{agent}_identifier"] = forms.URLField(
            required=False, label=f"{label}: identifier", assume_scheme="https", help_text="A URL, e.g. a ROR id."
        )
    fields["md_health_category"] = forms.MultipleChoiceField(
        required=False,
        label="health category",
        widget=forms.CheckboxSelectMultiple,
        choices=HEALTH_CATEGORIES,
        help_text="None ticked: the node default (FDP_HEALTH_CATEGORY).",
    )
    fields["md_keywords"] = forms.CharField(required=False, label="keywords", help_text="Separated by commas.")
    fields["md_legal_basis"] = forms.MultipleChoiceField(
        required=False, label="legal basis", widget=forms.CheckboxSelectMultiple, choices=LEGAL_BASES
    )
    fields["md_conforms_to"] = forms.MultipleChoiceField(
        required=False, label="conforms to", widget=forms.CheckboxSelectMultiple, choices=CONFORMS_TO
    )
    fields["md_synthetic"] = forms.BooleanField(
        required=False, label="synthetic data", help_text="Tick only for synthetic (demo) data."
    )
    fields["md_population_coverage"] = forms.CharField(
        required=False, label="population coverage", widget=forms.Textarea(attrs={"rows": 2})
    )
    return fields


METADATA_FORM_FIELDS = list(_metadata_fields())
# Declared fields (so the admin's form factory knows them), mixed into DatasetForm.
MetadataFieldsForm = type("MetadataFieldsForm", (forms.Form,), _metadata_fields())


def form_metadata(data: dict, previous: dict) -> dict:
    """The metadata the form describes, over what it cannot show (e.g. themes set through the API)."""
    metadata = {
        key: value
        for key, value in (previous or {}).items()
        if key
        not in (
            *AGENT_FIELDS,
            "health_category",
            "keywords",
            "legal_basis",
            "conforms_to",
            "type",
            "population_coverage",
        )
    }
    for agent in AGENT_FIELDS:
        if data.get(f"md_{agent}_name"):
            metadata[agent] = {
                key: data[f"md_{agent}_{key}"]
                for key in ("name", "email", "identifier")
                if data.get(f"md_{agent}_{key}")
            }
    for key in ("health_category", "legal_basis", "conforms_to"):
        if data.get(f"md_{key}"):
            metadata[key] = list(data[f"md_{key}"])
    keywords = [word.strip() for word in (data.get("md_keywords") or "").split(",") if word.strip()]
    if keywords:
        metadata["keywords"] = keywords
    if data.get("md_synthetic"):
        metadata["type"] = SYNTHETIC
    if data.get("md_population_coverage"):
        metadata["population_coverage"] = data["md_population_coverage"]
    return metadata


class DatasetForm(forms.ModelForm, MetadataFieldsForm):
    duo_codes = forms.MultipleChoiceField(
        required=False,
        label="DUO terms",
        widget=forms.CheckboxSelectMultiple,
        choices=[(code, f"{code} {describe(code)}") for code in TERMS],
        help_text="At most one permission (GRU, HMB, DS, POA, NRES) and any modifiers.",
    )
    terms_url = forms.URLField(required=False, max_length=255, assume_scheme="https")
    add_files = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="File accessions to add (ready data files; their indexes follow). Drafts only.",
    )

    class Meta:
        model = Dataset
        fields = ["title", "description", "dac", "terms_url", "terms_text", "max_access_days"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["duo_codes"].initial = [code for code in self.instance.duo if code in TERMS]
            metadata = self.instance.metadata or {}
            for agent in AGENT_FIELDS:
                value = metadata.get(agent)
                value = value[0] if isinstance(value, list) and value else value
                for key in ("name", "email", "identifier"):
                    self.fields[f"md_{agent}_{key}"].initial = (value or {}).get(key, "")
            for key in ("health_category", "legal_basis", "conforms_to"):
                self.fields[f"md_{key}"].initial = metadata.get(key, [])
            self.fields["md_keywords"].initial = ", ".join(metadata.get("keywords", []))
            self.fields["md_synthetic"].initial = metadata.get("type") == SYNTHETIC
            self.fields["md_population_coverage"].initial = metadata.get("population_coverage", "")

    def clean(self):
        """Apply the services' own checks here, so that a refusal shows on the form, not after saving."""
        data = super().clean()
        fields = {key: data.get(key) for key in ("title", "description", "terms_url", "terms_text", "max_access_days")}
        try:
            services.clean_dataset_fields(duo=list(data.get("duo_codes") or []), **fields)
            services.clean_metadata(form_metadata(data, self.instance.metadata if self.instance.pk else {}))
        except InvalidInput as error:
            raise forms.ValidationError(error.detail) from None
        if _accessions(data.get("add_files")):
            if self.instance.pk and self.instance.status != Dataset.Status.DRAFT:
                self.add_error("add_files", "Files can only be added to a draft dataset.")
            else:
                try:
                    services.find_ready_files(_accessions(data["add_files"]))
                except InvalidInput as error:
                    self.add_error("add_files", error.detail)
        return data


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
            if _accessions(data.get("add_files")):
                services.add_files_to_dataset(
                    actor=request.user, dataset=obj, files=_accessions(data["add_files"]), request=request
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
