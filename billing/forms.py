from __future__ import annotations

from decimal import Decimal

from django import forms

from billing import calculator, shipping
from billing.models import BillingAccount, VolumeCommitment

WEIGHT_UNITS = {
    "oz": Decimal("28.349523125"),
    "lb": Decimal("453.59237"),
    "g": Decimal(1),
    "kg": Decimal(1000),
}
LENGTH_UNITS = {"in": Decimal("25.4"), "cm": Decimal(10), "mm": Decimal(1)}


class QuoteForm(forms.Form):
    """The public calculator's inputs (shape only); ``to_input`` converts to grams and millimetres."""

    monthly_orders = forms.IntegerField(min_value=1, max_value=1_000_000, initial=500)
    units_per_order = forms.IntegerField(min_value=1, max_value=100, initial=1)
    weight = forms.DecimalField(min_value=Decimal("0.01"), max_value=Decimal(100000), initial=Decimal(12))
    weight_unit = forms.ChoiceField(choices=[(u, u) for u in WEIGHT_UNITS], initial="oz")
    length = forms.DecimalField(min_value=Decimal("0.1"), max_value=Decimal(5000), initial=Decimal(8))
    width = forms.DecimalField(min_value=Decimal("0.1"), max_value=Decimal(5000), initial=Decimal(6))
    height = forms.DecimalField(min_value=Decimal("0.1"), max_value=Decimal(5000), initial=Decimal(3))
    length_unit = forms.ChoiceField(choices=[(u, u) for u in ("in", "cm")], initial="in")
    destinations = forms.CharField(
        required=False,
        initial="10001, 60601, 94105",
        help_text="US ZIP codes and/or zones (e.g. 'zone 2, zone 8'), comma-separated",
    )
    pallets = forms.DecimalField(
        required=False, min_value=Decimal(0), max_value=Decimal(10000), initial=Decimal(1)
    )
    cubic_feet = forms.DecimalField(required=False, min_value=Decimal(0), max_value=Decimal(1000000))
    speed = forms.ChoiceField(choices=[(s, s.title()) for s in shipping.SPEEDS], initial="standard")
    fragile = forms.BooleanField(required=False)
    hazmat = forms.BooleanField(required=False)
    gift_wrap = forms.BooleanField(required=False)

    def clean_destinations(self):
        raw = self.cleaned_data.get("destinations") or ""
        zones, zips = [], []
        for token in [t.strip() for t in raw.replace(";", ",").split(",") if t.strip()]:
            low = token.lower().replace("zone", "").strip()
            if low.isdigit() and len(low) == 1 and 1 <= int(low) <= 8:
                zones.append(int(low))
                continue
            try:
                shipping.zip3(token)
            except ValueError as exc:
                raise forms.ValidationError(f"{token!r} is neither a US ZIP code nor a zone 1–8.") from exc
            zips.append(token)
        if len(zones) + len(zips) > 200:
            raise forms.ValidationError("At most 200 destinations.")
        return {"zones": zones, "postal_codes": zips}

    def to_input(self) -> calculator.QuoteInput:
        d = self.cleaned_data
        w, ln = WEIGHT_UNITS[d["weight_unit"]], LENGTH_UNITS[d["length_unit"]]
        dest = d["destinations"]
        return calculator.QuoteInput(
            monthly_orders=d["monthly_orders"],
            units_per_order=d["units_per_order"],
            weight_g=d["weight"] * w,
            length_mm=d["length"] * ln,
            width_mm=d["width"] * ln,
            height_mm=d["height"] * ln,
            destinations=calculator.destinations_from(zones=dest["zones"], postal_codes=dest["postal_codes"]),
            pallets=d.get("pallets") or Decimal(0),
            cubic_feet=d.get("cubic_feet") or Decimal(0),
            speed=d["speed"],
            fragile=d["fragile"],
            hazmat=d["hazmat"],
            gift_wrap=d["gift_wrap"],
        )

    def inputs_json(self) -> dict:
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in self.data.items() if k in self.fields}


class AccountForm(forms.Form):
    cycle = forms.ChoiceField(choices=BillingAccount.Cycle.choices)
    autopay = forms.BooleanField(required=False)


class CommitmentForm(forms.Form):
    monthly_orders = forms.IntegerField(min_value=1, max_value=10_000_000)
    term = forms.ChoiceField(choices=VolumeCommitment.Term.choices)
    starts_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class DisputeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class PaymentMethodForm(forms.Form):
    """Test/dev mode: a Stripe test payment method id (e.g. ``pm_card_visa``); production: the SetupIntent id
    confirmed by Stripe.js in the browser, with the payment method it created."""

    payment_method = forms.CharField(max_length=80, initial="pm_card_visa")
    setup_intent = forms.CharField(max_length=80, required=False)


class BankAccountForm(forms.Form):
    """A US bank account for ACH debits (shape only; Stripe checks the numbers)."""

    holder_name = forms.CharField(max_length=200, label="Account holder name")
    routing_number = forms.RegexField(regex=r"^\d{9}$", label="Routing number",
                                      error_messages={"invalid": "A routing number has 9 digits."})  # fmt: skip
    account_number = forms.RegexField(regex=r"^\d{4,17}$", label="Account number",
                                      error_messages={"invalid": "An account number has 4 to 17 digits."})  # fmt: skip
    account_number_again = forms.CharField(max_length=17, label="Account number again")
    account_holder_type = forms.ChoiceField(choices=[("company", "Company"), ("individual", "Individual")])
    account_type = forms.ChoiceField(choices=[("checking", "Checking"), ("savings", "Savings")])
    mandate = forms.BooleanField(label="I authorise the debits described above")

    def clean(self):
        data = super().clean()
        if data.get("account_number") and data.get("account_number") != data.get("account_number_again"):
            self.add_error("account_number_again", "The account numbers do not match.")
        return data


class MicrodepositForm(forms.Form):
    """Either the two deposit amounts in cents or the 6-character code starting with SM."""

    amount_1 = forms.IntegerField(min_value=1, max_value=99, required=False, label="First deposit (cents)")
    amount_2 = forms.IntegerField(min_value=1, max_value=99, required=False, label="Second deposit (cents)")
    descriptor_code = forms.RegexField(regex=r"^[Ss][Mm][A-Za-z0-9]{4}$", required=False, label="Code",
                                       error_messages={"invalid": "The code has 6 characters and starts with SM."})  # fmt: skip

    def clean(self):
        data = super().clean()
        amounts = [data.get("amount_1"), data.get("amount_2")]
        if data.get("descriptor_code"):
            data["amounts"] = None
        elif all(amounts):
            data["amounts"] = amounts
        elif not self.errors:
            raise forms.ValidationError("Enter both deposit amounts, or the code.")
        return data


class CarrierInvoiceForm(forms.Form):
    file = forms.FileField()
    reference = forms.CharField(max_length=120, help_text="the carrier invoice number")


class OverrideForm(forms.Form):
    merchant_id = forms.IntegerField()
    allow = forms.BooleanField(required=False)
    reason = forms.CharField(max_length=300, required=False)
    credit_limit = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=14, decimal_places=2)
    terms_days = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—"), (0, "On receipt"), (15, "Net 15"), (30, "Net 30")],
    )


class ResolveForm(forms.Form):
    accept = forms.BooleanField(required=False)
    resolution = forms.CharField(max_length=500, required=False)
    credit = forms.DecimalField(required=False, min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
