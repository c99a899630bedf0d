"""Demo data: the operator's EasyPost-backed accounts in test mode, one per carrier."""

from __future__ import annotations

from decimal import Decimal

from .models import CarrierAccount

DEMO_ACCOUNTS = [
    ("Operator USPS (EasyPost test)", "usps", Decimal("0"), 10),
    ("Operator UPS (EasyPost test)", "ups", Decimal("5"), 5),
    ("Operator FedEx (EasyPost test)", "fedex", Decimal("5"), 5),
    ("Operator DHL Express (EasyPost test)", "dhl_express", Decimal("8"), 0),
]


def load() -> None:
    for name, carrier, markup, priority in DEMO_ACCOUNTS:
        CarrierAccount.objects.get_or_create(
            merchant=None,
            name=name,
            defaults={
                "carrier": carrier,
                "api_key": "EZTK-demo-test-key",
                "mode": CarrierAccount.Mode.TEST,
                "markup_percent": markup,
                "priority": priority,
                "default_package": {"length_mm": 305, "width_mm": 229, "height_mm": 102},
            },
        )
