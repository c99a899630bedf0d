"""Forms: shape only (the services apply the rules)."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from inventory.barcodes import validate_barcode
from inventory.models import ChannelAllocationRule, Product
from inventory.units import GRAMS_PER, MM_PER, from_grams, from_mm, to_grams, to_mm

PRODUCT_FIELDS = [
    "sku",
    "name",
    "description",
    "barcode",
    "value",
    "currency",
    "hs_code",
    "country_of_origin",
    "fragile",
    "hazmat",
    "un_class",
    "requires_lot_tracking",
    "requires_expiry_tracking",
    "temperature_min_c",
    "temperature_max_c",
    "humidity_max_pct",
    "packaging",
    "custom_inserts",
    "photo",
    "low_stock_threshold",
]


class ProductForm(forms.ModelForm):
    """Weight and dimensions are entered in the unit the merchant picks and stored in g / mm."""

    units = forms.ChoiceField(
        choices=[("metric", "Metric (g, kg, cm)"), ("imperial", "Imperial (oz, lb, in)")], initial="metric"
    )
    weight = forms.DecimalField(min_value=0, max_digits=10, decimal_places=3, required=False)
    weight_unit = forms.ChoiceField(choices=[(u, u) for u in GRAMS_PER], initial="g")
    length = forms.DecimalField(min_value=0, max_digits=10, decimal_places=2, required=False)
    width = forms.DecimalField(min_value=0, max_digits=10, decimal_places=2, required=False)
    height = forms.DecimalField(min_value=0, max_digits=10, decimal_places=2, required=False)
    dimension_unit = forms.ChoiceField(choices=[(u, u) for u in MM_PER if u != "m"], initial="cm")

    class Meta:
        model = Product
        fields = PRODUCT_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inst = self.instance
        if inst.pk and not self.is_bound:
            self.initial.update(
                weight=from_grams(inst.weight_g, "g"),
                weight_unit="g",
                length=from_mm(inst.length_mm, "cm"),
                width=from_mm(inst.width_mm, "cm"),
                height=from_mm(inst.height_mm, "cm"),
                dimension_unit="cm",
            )

    def clean_barcode(self):
        code = (self.cleaned_data.get("barcode") or "").strip()
        if code:
            problem = validate_barcode(code)
            if problem:
                raise forms.ValidationError(problem)
        return code

    def clean_country_of_origin(self):
        return (self.cleaned_data.get("country_of_origin") or "").upper()

    def clean(self):
        data = super().clean()
        try:
            data["weight_g"] = to_grams(data.get("weight") or Decimal(0), data.get("weight_unit") or "g")
            for dim in ("length", "width", "height"):
                data[f"{dim}_mm"] = to_mm(data.get(dim) or Decimal(0), data.get("dimension_unit") or "cm")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data

    def service_fields(self) -> dict:
        d = self.cleaned_data
        out = {f: d.get(f) for f in PRODUCT_FIELDS if f in d}
        if not d.get("photo"):
            out.pop("photo", None)
        out.update({k: d[k] for k in ("weight_g", "length_mm", "width_mm", "height_mm")})
        return out


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8, first line a header (download the export for the format)")

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > 5 * 1024 * 1024:
            raise forms.ValidationError("At most 5 MB.")
        try:
            return f.name, f.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("Save the file as UTF-8 CSV.") from exc


class InboundForm(forms.Form):
    warehouse = forms.ModelChoiceField(queryset=None)
    reference = forms.CharField(max_length=100, required=False, help_text="your PO or shipment number")
    expected_at = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    carrier = forms.CharField(max_length=100, required=False)
    tracking_number = forms.CharField(max_length=100, required=False)
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "SKU-1, 24\nSKU-2, 12"}),
        help_text="one line per product: SKU, quantity",
    )

    def __init__(self, *args, warehouses=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = warehouses

    def clean_lines(self):
        out = []
        for n, raw in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not raw.strip():
                continue
            sku, _, qty = raw.replace("\t", ",").partition(",")
            if not qty.strip().isdigit() or int(qty) < 1:
                raise forms.ValidationError(f"Line {n}: write SKU, quantity (e.g. TEE-1, 24).")
            out.append((sku.strip(), int(qty)))
        if not out:
            raise forms.ValidationError("Add at least one line.")
        return out


class ChannelRuleForm(forms.ModelForm):
    class Meta:
        model = ChannelAllocationRule
        fields = ["channel", "rule", "share_percent", "cap", "buffer", "show_zero_below"]


class ProductChannelRuleForm(forms.Form):
    """One channel's rule for one product (the product page)."""

    channel = forms.CharField(max_length=100)
    rule = forms.ChoiceField(choices=ChannelAllocationRule.Rule.choices)
    share_percent = forms.IntegerField(min_value=0, max_value=100, initial=100, required=False)
    cap = forms.IntegerField(min_value=0, max_value=10_000_000, initial=0, required=False)
    buffer = forms.IntegerField(min_value=0, max_value=10_000_000, initial=0, required=False)
    show_zero_below = forms.IntegerField(min_value=0, max_value=10_000_000, initial=0, required=False)

    def clean(self):
        data = super().clean()
        for name, default in (("share_percent", 100), ("cap", 0), ("buffer", 0), ("show_zero_below", 0)):
            if data.get(name) is None:
                data[name] = default
        return data


class StockSettingsForm(forms.Form):
    safety_stock = forms.IntegerField(min_value=0, max_value=1_000_000)
