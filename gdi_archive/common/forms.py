"""What every form on the web pages shares: fields that say they are required, and, after a
refusal, fields that point at their own error (aria-invalid, aria-describedby) so a screen
reader reads the reason with the field. The templates render them with `_field.html` and put
`_error_summary.html` (links to each field in error) at the top of the form."""

from django import forms


class AccessibleForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs.setdefault("aria-describedby", f"{self[name].auto_id}_hint")
            if field.required and not isinstance(field.widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
                field.widget.attrs.setdefault("aria-required", "true")

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                bound = self[name]
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                hint = f" {bound.auto_id}_hint" if self.fields[name].help_text else ""
                attrs["aria-describedby"] = f"{bound.auto_id}_error{hint}"
