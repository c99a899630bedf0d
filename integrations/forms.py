"""Forms for the integrations pages: shape only."""

from __future__ import annotations

from django import forms

from integrations.models import ChannelConnection


class ConnectForm(forms.Form):
    account_id = forms.CharField(max_length=255)
    name = forms.CharField(max_length=120, required=False, label="Name in Fulfil (optional)")

    def __init__(self, *args, connector_cls=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.connector_cls = connector_cls
        if connector_cls is not None:
            self.fields["account_id"].label = connector_cls.account_label
            for key, label in connector_cls.credential_fields:
                self.fields[key] = forms.CharField(
                    label=label,
                    max_length=2000,
                    widget=forms.PasswordInput(render_value=True)
                    if "secret" in key or "token" in key
                    else forms.TextInput(),
                )

    def credentials(self) -> dict:
        if self.connector_cls is None:
            return {}
        return {key: self.cleaned_data[key].strip() for key, _ in self.connector_cls.credential_fields}


class SettingsForm(forms.ModelForm):
    import_statuses = forms.CharField(
        required=False, help_text="comma-separated channel statuses to import; empty = all open orders"
    )
    inventory_warehouses = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="none ticked = all warehouses"
    )
    shipping_map = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="one per line: channel shipping method = standard | expedited | overnight",
    )

    class Meta:
        model = ChannelConnection
        fields = ["name", "import_from", "review", "inventory_sync", "inventory_buffer"]
        widgets = {"import_from": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def __init__(self, *args, warehouses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inventory_warehouses"].choices = [(str(w.pk), str(w)) for w in warehouses]
        if not self.is_bound:
            inst = self.instance
            self.initial["import_statuses"] = ", ".join(inst.import_statuses or [])
            self.initial["inventory_warehouses"] = [str(w) for w in inst.inventory_warehouses or []]
            self.initial["shipping_map"] = "\n".join(
                f"{k} = {v}" for k, v in (inst.shipping_map or {}).items()
            )

    def clean_import_statuses(self):
        return [s.strip() for s in self.cleaned_data["import_statuses"].split(",") if s.strip()]

    def clean_inventory_warehouses(self):
        return [int(w) for w in self.cleaned_data["inventory_warehouses"]]

    def clean_shipping_map(self):
        mapping = {}
        for n, line in enumerate(self.cleaned_data["shipping_map"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            value = value.strip().lower()
            if not sep or value not in ("standard", "expedited", "overnight"):
                raise forms.ValidationError(f"Line {n}: write 'method = standard|expedited|overnight'.")
            mapping[key.strip()] = value
        return mapping

    def settings(self) -> dict:
        data = {k: self.cleaned_data[k] for k in self.Meta.fields}
        for key in ("import_statuses", "inventory_warehouses", "shipping_map"):
            data[key] = self.cleaned_data[key]
        return data
