"""HTML forms (shape only)."""

from __future__ import annotations

from django import forms

from orders.models import Channel, ExceptionReason, OrderSettings, OrderStatus, ShippingService

LINE_ROWS = 6


class FilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "number, name or email", "type": "search"}),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *OrderStatus.choices])
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])
    created_after = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_before = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    customer = forms.CharField(required=False)
    sku = forms.CharField(required=False, label="SKU")
    warehouse = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "code"}))
    exception = forms.ChoiceField(
        required=False, label="Exception", choices=[("", "Any"), *ExceptionReason.choices]
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("newest", "Newest"),
            ("oldest", "Oldest"),
            ("priority", "Priority"),
            ("placed", "Placed on channel"),
        ],
    )


class AddressForm(forms.Form):
    name = forms.CharField(max_length=200)
    company = forms.CharField(max_length=200, required=False)
    street1 = forms.CharField(max_length=200, label="Street")
    street2 = forms.CharField(max_length=200, required=False, label="Street (line 2)")
    city = forms.CharField(max_length=100)
    state = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, label="Postal code")
    country = forms.CharField(max_length=2, initial="US")
    phone = forms.CharField(max_length=40, required=False)
    email = forms.EmailField(required=False)


class ManualOrderForm(AddressForm):
    external_id = forms.CharField(
        max_length=128, label="Order reference", help_text="unique; re-submitting it updates the order"
    )
    shipping_service = forms.ChoiceField(choices=ShippingService.choices)
    priority = forms.IntegerField(initial=0, required=False)
    gift_message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    tags = forms.CharField(required=False, help_text="comma-separated, e.g. fragile, gift, custom-packaging")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(LINE_ROWS):
            self.fields[f"sku_{i}"] = forms.CharField(required=False, label="SKU")
            self.fields[f"qty_{i}"] = forms.IntegerField(required=False, min_value=1, label="Qty")
            self.fields[f"price_{i}"] = forms.DecimalField(
                required=False, min_value=0, decimal_places=2, label="Unit price"
            )

    def line_rows(self):
        return [(self[f"sku_{i}"], self[f"qty_{i}"], self[f"price_{i}"]) for i in range(LINE_ROWS)]

    def clean(self):
        data = super().clean()
        lines = []
        for i in range(LINE_ROWS):
            sku, qty = data.get(f"sku_{i}"), data.get(f"qty_{i}")
            if sku and not qty:
                self.add_error(f"qty_{i}", "Enter a quantity.")
            elif sku:
                lines.append({"sku": sku, "quantity": qty, "unit_price": data.get(f"price_{i}") or 0})
        if not lines:
            raise forms.ValidationError("Add at least one line (SKU and quantity).")
        data["lines"] = lines
        return data


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        help_text="columns: external_id, sku, quantity (required); number, customer_name, customer_email, ship_to_name, street1, street2, city, state, postal_code, country, phone, unit_price, shipping_service, priority, gift_message, note, tags"
    )


class SkuMappingForm(forms.Form):
    external_sku = forms.CharField(max_length=100, label="Channel SKU")
    product_sku = forms.CharField(max_length=100, label="Our product SKU")
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])


class SettingsForm(forms.ModelForm):
    preferred = forms.CharField(
        required=False, label="Preferred warehouses", help_text="codes, comma-separated, first wins ties"
    )
    default_lead_time_days = forms.IntegerField(
        min_value=0,
        max_value=60,
        required=False,
        initial=0,
        label="Default lead time (days)",
        help_text="restock time to assume when no inbound shipment covers a shortfall (0 = wait only for "
        "announced inbound shipments)",
    )

    def clean_default_lead_time_days(self) -> int:
        return self.cleaned_data.get("default_lead_time_days") or 0

    class Meta:
        model = OrderSettings
        fields = [
            "notify_received",
            "notify_shipped",
            "notify_backordered",
            "notify_cancelled",
            "notify_modified",
            "notify_delivered",
            "notify_delivery_exception",
            "reply_to",
            "auto_release",
            "allow_split",
            "max_wait_days",
            "split_penalty",
            "wait_cost_per_day",
            "default_lead_time_days",
        ]


class SimulateForm(forms.Form):
    allow_split = forms.BooleanField(required=False, initial=True)
    max_wait_days = forms.IntegerField(min_value=0, max_value=30, initial=0)
    split_penalty = forms.DecimalField(min_value=0, max_digits=8, decimal_places=2, initial=3)
    wait_cost_per_day = forms.DecimalField(min_value=0, max_digits=8, decimal_places=2, initial=2)
    preferred = forms.CharField(required=False, label="Preferred warehouses")
    default_lead_time_days = forms.IntegerField(
        min_value=0, max_value=60, initial=0, required=False, label="Default lead time (days)"
    )
