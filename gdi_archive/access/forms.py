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
