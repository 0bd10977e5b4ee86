"""The admin's forms for DACs and datasets, kept apart from the ModelAdmins in `admin`: the dataset
form carries the FAIR Data Point metadata as fields and runs the services' own checks, so that a
refusal shows on the form, not after saving."""

import re

from django import forms
from django.contrib.auth import get_user_model

from gdi_archive.common.errors import InvalidInput

from . import services
from .duo import TERMS, describe
from .models import DAC, Dataset


def file_accessions(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


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
        if file_accessions(data.get("add_files")):
            if self.instance.pk and self.instance.status != Dataset.Status.DRAFT:
                self.add_error("add_files", "Files can only be added to a draft dataset.")
            else:
                try:
                    services.find_ready_files(file_accessions(data["add_files"]))
                except InvalidInput as error:
                    self.add_error("add_files", error.detail)
        return data
