"""Forms validate shape only; services do the work."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from .models import CarrierAccount, CarrierCode, LabelFormat, ServiceLevel, ShippingRule


class CarrierAccountForm(forms.Form):
    name = forms.CharField(max_length=100)
    carrier = forms.ChoiceField(choices=CarrierCode.choices)
    api_key = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="EasyPost API key",
    )
    webhook_secret = forms.CharField(
        max_length=200, required=False, widget=forms.PasswordInput(render_value=False)
    )
    provider_account_id = forms.CharField(max_length=100, required=False, label="EasyPost carrier account id")
    mode = forms.ChoiceField(choices=CarrierAccount.Mode.choices)
    enabled_services = forms.CharField(
        required=False, help_text="comma-separated service names; empty = every service"
    )
    markup_percent = forms.DecimalField(max_digits=6, decimal_places=2, min_value=0, initial=Decimal("0"))
    markup_flat = forms.DecimalField(max_digits=8, decimal_places=2, min_value=0, initial=Decimal("0"))
    package_length_mm = forms.IntegerField(min_value=0, required=False, label="Default box length (mm)")
    package_width_mm = forms.IntegerField(min_value=0, required=False, label="Default box width (mm)")
    package_height_mm = forms.IntegerField(min_value=0, required=False, label="Default box height (mm)")
    package_type = forms.CharField(
        max_length=50, required=False, label="Carrier package type (e.g. FlatRateEnvelope)"
    )
    label_format = forms.ChoiceField(choices=LabelFormat.choices)
    timeout_seconds = forms.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0.5"), initial=Decimal("8")
    )

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["api_key"].required = creating

    @classmethod
    def initial_for(cls, account: CarrierAccount) -> dict:
        package = account.default_package or {}
        return {
            "name": account.name,
            "carrier": account.carrier,
            "provider_account_id": account.provider_account_id,
            "mode": account.mode,
            "enabled_services": ", ".join(account.enabled_services or []),
            "markup_percent": account.markup_percent,
            "markup_flat": account.markup_flat,
            "package_length_mm": package.get("length_mm"),
            "package_width_mm": package.get("width_mm"),
            "package_height_mm": package.get("height_mm"),
            "package_type": package.get("package_type", ""),
            "label_format": account.label_format,
            "timeout_seconds": account.timeout_seconds,
        }

    def service_fields(self) -> dict:
        d = self.cleaned_data
        package = {
            k: d[f"package_{k}"]
            for k in ("length_mm", "width_mm", "height_mm", "type")
            if d.get(f"package_{k}") not in (None, "")
        }
        if "type" in package:
            package["package_type"] = package.pop("type")
        return {
            "name": d["name"],
            "carrier": d["carrier"],
            "provider_account_id": d["provider_account_id"],
            "mode": d["mode"],
            "enabled_services": [s.strip() for s in d["enabled_services"].split(",") if s.strip()],
            "markup_percent": d["markup_percent"],
            "markup_flat": d["markup_flat"],
            "default_package": package,
            "label_format": d["label_format"],
            "timeout_seconds": d["timeout_seconds"],
        }


class RatesForm(forms.Form):
    weight_g = forms.IntegerField(min_value=1, max_value=1_000_000, label="Weight (g)")
    length_mm = forms.IntegerField(min_value=0, max_value=10_000, required=False, label="Length (mm)")
    width_mm = forms.IntegerField(min_value=0, max_value=10_000, required=False, label="Width (mm)")
    height_mm = forms.IntegerField(min_value=0, max_value=10_000, required=False, label="Height (mm)")
    street1 = forms.CharField(max_length=200)
    city = forms.CharField(max_length=100)
    state = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=20)
    country = forms.CharField(max_length=2, initial="US")
    service_level = forms.ChoiceField(choices=ServiceLevel.choices)
    signature = forms.ChoiceField(
        choices=[("", "None"), ("signature", "Signature"), ("adult_signature", "Adult signature")],
        required=False,
    )
    insurance_amount = forms.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    hazmat = forms.BooleanField(required=False)
    lithium = forms.BooleanField(required=False)


class ShippingRuleForm(forms.Form):
    rule = forms.ChoiceField(choices=ShippingRule.Rule.choices)
    max_days = forms.IntegerField(min_value=1, max_value=30, required=False)
    preferred_carrier = forms.ChoiceField(choices=[("", "—"), *CarrierCode.choices], required=False)
