import re
import zoneinfo
from functools import cache

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Merchant
from accounts.services import phone_normalize


@cache
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    return [(name, name.replace("_", " ")) for name in names]


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
        self.fields["timezone"] = forms.ChoiceField(choices=timezone_choices(), initial="UTC")
        self.fields["country"].help_text = "Two letters, e.g. US, CA, GB, DE."
        self.fields["currency"].help_text = "Three letters, e.g. USD, CAD, EUR."

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError("Enter a two-letter country code, e.g. US.")
        return country

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValidationError("Enter a three-letter currency code, e.g. USD.")
        return currency

    def clean_contact_phone(self) -> str:
        raw = self.cleaned_data["contact_phone"].strip()
        if not raw:
            return ""
        return phone_normalize(raw=raw, region=(self.data.get("country") or "US").strip().upper()[:2])


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
