from django import forms
from django.utils.translation import gettext_lazy as _

from gdi_archive.common.forms import AccessibleForm


class NoEchoTextarea(forms.Textarea):
    """Never renders what was submitted: a refused key may be a pasted secret key, and a page
    must not show it again (nor keep it in the browser's form history)."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


class PublicKeyForm(AccessibleForm):
    label = forms.CharField(label=_("Name (for you)"), max_length=100, required=False)
    key = forms.CharField(
        label=_("Crypt4GH public key"),
        required=False,
        widget=NoEchoTextarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("Paste the public key file (-----BEGIN CRYPT4GH PUBLIC KEY-----…) or an ssh-ed25519 line."),
    )
    key_file = forms.FileField(label=_("…or upload the public key file"), required=False)

    def clean(self):
        data = super().clean()
        upload = data.get("key_file")
        if upload:
            if upload.size > 16 * 1024:
                raise forms.ValidationError(_("A public key file is small; this one is too large."))
            data["key"] = upload.read().decode("ascii", errors="replace")
        if not (data.get("key") or "").strip():
            raise forms.ValidationError(_("Paste a public key or upload its file."))
        return data
