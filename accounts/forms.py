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
