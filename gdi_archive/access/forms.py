from django import forms
from django.utils.translation import gettext_lazy as _

from gdi_archive.common.forms import AccessibleForm

# The DUO terms an applicant can state as intended use (GA4GH Data Use Ontology).
DUO_CHOICES = [
    ("DUO:0000042", _("General research use (GRU)")),
    ("DUO:0000006", _("Health or medical or biomedical research (HMB)")),
    ("DUO:0000007", _("Disease specific research (DS)")),
    ("DUO:0000011", _("Population origins or ancestry research (POA)")),
    ("DUO:0000043", _("Clinical care use (CC)")),
    ("DUO:0000045", _("Not-for-profit organisation use (NPU)")),
    ("DUO:0000046", _("Non-commercial use (NCU)")),
    ("DUO:0000018", _("Not-for-profit, non-commercial use (NPUNCU)")),
]
DUO_LABELS = dict(DUO_CHOICES)


class RequestForm(AccessibleForm):
    title = forms.CharField(label=_("Project title"), max_length=300)
    purpose = forms.CharField(label=_("Research purpose"), widget=forms.Textarea(attrs={"rows": 6}))
    institution = forms.CharField(label=_("Institution"), max_length=300, required=False)
    duo = forms.MultipleChoiceField(
        label=_("Intended use"), choices=DUO_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )


class NewRequestForm(RequestForm):
    datasets = forms.MultipleChoiceField(label=_("Datasets"), widget=forms.CheckboxSelectMultiple)
    accept_terms = forms.BooleanField(label=_("I have read and accept the terms of use of the datasets above."))
    attachment = forms.FileField(
        label=_("Attachment (PDF, optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def __init__(self, *args, dataset_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["datasets"].choices = dataset_choices
        self.order_fields(["datasets", "title", "purpose", "institution", "duo", "attachment", "accept_terms"])


class CommentForm(AccessibleForm):
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}))


class AttachmentForm(AccessibleForm):
    attachment = forms.FileField(
        label=_("Attachment (PDF)"), widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"})
    )


def document_field_name(kind: str) -> str:
    return f"doc_{kind}"


class DocumentsForm(AccessibleForm):
    """One file field per document the DAC asks for (required or optional), each a PDF by content.

    Whether a required document is missing is settled by the service at submit time (the same
    rule as the API); this form only refuses a file that is not a PDF, next to its field.
    """

    def __init__(self, *args, dac=None, present=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.documents = list((dac.required_documents if dac else None) or [])
        self.present = set(present)
        for doc in self.documents:
            kind = doc.get("kind")
            if not kind:
                continue
            self.fields[document_field_name(kind)] = forms.FileField(
                label=doc.get("label") or kind,
                required=False,
                widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
            )
            self.fields[document_field_name(kind)].document_required = bool(doc.get("required"))
            self.fields[document_field_name(kind)].document_kind = kind
            self.fields[document_field_name(kind)].document_present = kind in self.present

    def clean(self):
        from .attachments import is_pdf

        data = super().clean()
        for name, upload in list(data.items()):
            if upload and not is_pdf(upload):
                self.add_error(name, _("This file is not a PDF. Choose the PDF of this document."))
        return data

    def uploads(self) -> list[tuple[str, object]]:
        """(kind, file) for each field that has a file, once the form is valid."""
        return [
            (field.document_kind, self.cleaned_data[name])
            for name, field in self.fields.items()
            if self.cleaned_data.get(name)
        ]

    def mark_missing(self, kinds) -> bool:
        """Mark each missing document next to its field; False if one has no field here."""
        marked = True
        for kind in kinds:
            name = document_field_name(kind)
            if name not in self.fields:
                marked = False
            elif name not in self.errors:
                self.add_error(name, _("This document is required before the request can be submitted."))
        return marked


class InviteForm(AccessibleForm):
    email = forms.EmailField(label=_("Email address of the co-applicant"), max_length=254)


class AcceptInvitationForm(AccessibleForm):
    accept_terms = forms.BooleanField(label=_("I have read and accept the terms of use of the datasets above."))


class CopyForm(AccessibleForm):
    accept_terms = forms.BooleanField(label=_("I accept the current terms of use of these datasets again."))
