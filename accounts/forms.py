from django import forms

from accounts.models import Merchant


class BusinessProfileForm(forms.ModelForm):
    class Meta:
        model = Merchant
        fields = [
            "name",
            "contact_name",
            "contact_phone",
            "street1",
            "street2",
            "city",
            "state",
            "postal_code",
            "country",
            "timezone",
            "currency",
        ]
        labels = {"name": "Company name", "street1": "Address", "street2": "Address line 2 (optional)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ["name", "contact_name", "street1", "city", "postal_code"]:
            self.fields[name].required = True


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label="Mobile phone number",
        max_length=32,
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "tel", "placeholder": "+1 303 555 0123", "autofocus": True}
        ),
    )


class PhoneCodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9 ]*",
                "autofocus": True,
            }
        ),
    )
