"""Demo data: two operator warehouses with floor layouts, the demo merchants' catalogs, stock received
through the services (so the ledger agrees), an inbound shipment on its way and a low-stock product."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import Merchant
from inventory import services
from inventory.barcodes import gs1_check_digit
from inventory.models import Location, Product, StockMovement, Warehouse


def _upc(body11: str) -> str:
    return body11 + str(gs1_check_digit(body11))


WAREHOUSES = [
    {
        "code": "WH1",
        "name": "Fulfil East",
        "street1": "400 Logistics Parkway",
        "city": "Allentown",
        "state": "PA",
        "postal_code": "18106",
        "timezone": "America/New_York",
        "cutoff_time": "15:00",
        "hazmat_certified": True,
        "layout": (10, 30, 2),
    },
    {
        "code": "WH2",
        "name": "Fulfil West",
        "street1": "1200 Trademark Drive",
        "city": "Reno",
        "state": "NV",
        "postal_code": "89521",
        "timezone": "America/Los_Angeles",
        "cutoff_time": "14:00",
        "cold_storage": True,
        "layout": (4, 12, 2),
    },
]

# sku, name, weight g, (l, w, h) mm, value, extra fields, {warehouse: [(location code, qty, lot, expires in days)]}
CATALOGS = {
    "acme-outdoor": [
        (
            "ACME-TENT-2P",
            "Ridgeline 2-person tent",
            2150,
            (530, 180, 180),
            "189.00",
            {"fragile": False},
            {
                "WH1": [("A-01-01-1-A", 40, "", None), ("A-01-01-2-A", 60, "", None)],
                "WH2": [("A-01-01-1-A", 25, "", None)],
            },
        ),
        (
            "ACME-BAG-20F",
            "Summit 20°F sleeping bag",
            1300,
            (450, 250, 250),
            "149.00",
            {},
            {"WH1": [("A-01-02-1-A", 35, "", None)], "WH2": [("A-01-02-1-A", 10, "", None)]},
        ),
        (
            "ACME-LAMP-300",
            "Beacon 300 lm headlamp",
            90,
            (120, 80, 60),
            "34.00",
            {"low_stock_threshold": 10},
            {"WH1": [("A-02-03-1-A", 120, "", None)], "WH2": [("A-02-03-1-A", 40, "", None)]},
        ),
        (
            "ACME-BOTTLE-1L",
            "Trail 1 L water bottle",
            180,
            (260, 80, 80),
            "19.00",
            {},
            {"WH1": [("A-02-05-1-A", 200, "", None)], "WH2": [("A-02-05-1-A", 60, "", None)]},
        ),
        (
            "ACME-FUEL-450",
            "Isobutane stove fuel 450 g",
            700,
            (150, 150, 160),
            "9.50",
            {
                "hazmat": True,
                "un_class": "2.1",
                "hs_code": "2711.13",
                "custom_inserts": "Hazmat handling card",
            },
            {"WH1": [("A-03-07-1-A", 80, "", None)]},
        ),
        (
            "ACME-MIX-200",
            "Summit trail mix 200 g",
            200,
            (180, 120, 40),
            "6.00",
            {"requires_lot_tracking": True, "requires_expiry_tracking": True, "temperature_max_c": 25},
            {"WH1": [("A-03-09-1-A", 50, "L2411", 120), ("A-03-09-2-A", 70, "L2502", 240)]},
        ),
        (
            "ACME-MUG-TI",
            "Titanium camp mug",
            110,
            (100, 100, 90),
            "29.00",
            {"fragile": True, "low_stock_threshold": 8},
            {"WH1": [("A-04-02-1-A", 6, "", None)]},
        ),
    ],
    "globex-beauty": [
        (
            "GLX-SERUM-30",
            "Radiance vitamin C serum 30 ml",
            95,
            (110, 45, 45),
            "42.00",
            {
                "requires_lot_tracking": True,
                "requires_expiry_tracking": True,
                "temperature_min_c": 5,
                "temperature_max_c": 25,
                "fragile": True,
                "packaging": "padded",
            },
            {"WH1": [("A-05-04-1-A", 90, "SRM-0925", 300)], "WH2": [("A-03-04-1-A", 30, "SRM-0925", 300)]},
        ),
        (
            "GLX-LIP-RUBY",
            "Velvet lipstick — Ruby",
            30,
            (90, 25, 25),
            "18.00",
            {},
            {"WH1": [("A-05-06-1-A", 150, "", None)]},
        ),
        (
            "GLX-CREAM-50",
            "Overnight face cream 50 ml",
            160,
            (80, 80, 70),
            "36.00",
            {"fragile": True},
            {"WH1": [("A-05-08-1-A", 75, "", None)], "WH2": [("A-03-08-1-A", 20, "", None)]},
        ),
        (
            "GLX-PERF-50",
            "Eau de parfum 50 ml",
            240,
            (120, 70, 50),
            "68.00",
            {"hazmat": True, "un_class": "3", "fragile": True, "hs_code": "3303.00"},
            {"WH1": [("A-06-02-1-A", 40, "", None)]},
        ),
        (
            "GLX-BAG-SATIN",
            "Satin gift pouch",
            20,
            (200, 150, 5),
            "3.00",
            {"low_stock_threshold": 25},
            {"WH1": [("A-06-04-1-A", 30, "", None)]},
        ),
    ],
}

KITS = {
    "acme-outdoor": [
        ("ACME-KIT-START", "Camp starter kit", [("ACME-LAMP-300", 1), ("ACME-BOTTLE-1L", 2)], "59.00")
    ],
    "globex-beauty": [
        (
            "GLX-KIT-GLOW",
            "Glow gift set",
            [("GLX-SERUM-30", 1), ("GLX-LIP-RUBY", 1), ("GLX-BAG-SATIN", 1)],
            "69.00",
        )
    ],
}


def load() -> None:
    warehouses = {}
    for spec in WAREHOUSES:
        spec = dict(spec)
        aisles, bays, levels = spec.pop("layout")
        wh = Warehouse.objects.filter(code=spec["code"]).first()
        if wh is None:
            wh = services.warehouse_create(**spec)
        services.layout_generate(
            warehouse=wh, spec=services.LayoutSpec(aisles=aisles, bays=bays, levels=levels)
        )
        warehouses[wh.code] = wh
    serial = 100
    for slug, rows in CATALOGS.items():
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            continue
        for sku, name, weight, (ln, wd, ht), value, extra, stock in rows:
            serial += 1
            product = Product.objects.filter(merchant=merchant, sku=sku).first()
            if product is None:
                product = services.product_create(
                    merchant=merchant,
                    sku=sku,
                    name=name,
                    barcode=_upc(f"8{serial:010d}"),
                    weight_g=weight,
                    length_mm=ln,
                    width_mm=wd,
                    height_mm=ht,
                    value=value,
                    country_of_origin="US",
                    status=Product.Status.ACTIVE,
                    **extra,
                )
            if StockMovement.objects.filter(product=product).exists():
                continue
            for code, placements in stock.items():
                wh = warehouses[code]
                for loc_code, qty, lot, days in placements:
                    services.stock_receive(
                        merchant=merchant,
                        product=product,
                        warehouse=wh,
                        quantity=qty,
                        location=Location.objects.get(warehouse=wh, code=loc_code),
                        lot=lot,
                        expires_on=timezone.localdate() + timedelta(days=days) if days else None,
                        reference="demo:opening-stock",
                        reason="opening stock",
                    )
        for sku, name, comps, value in KITS.get(slug, []):
            if not Product.objects.filter(merchant=merchant, sku=sku).exists():
                services.product_create(
                    merchant=merchant,
                    sku=sku,
                    name=name,
                    value=value,
                    status=Product.Status.ACTIVE,
                    components=[(Product.objects.get(merchant=merchant, sku=c), q) for c, q in comps],
                )
        if slug == "acme-outdoor" and not merchant_has_asn(merchant):
            services.inbound_create(
                merchant=merchant,
                warehouse=warehouses["WH1"],
                reference="PO-1042",
                expected_at=timezone.localdate() + timedelta(days=3),
                carrier="UPS Freight",
                lines=[
                    (Product.objects.get(merchant=merchant, sku="ACME-MUG-TI"), 48),
                    (Product.objects.get(merchant=merchant, sku="ACME-LAMP-300"), 60),
                ],
            )


def merchant_has_asn(merchant) -> bool:
    from inventory.models import InboundShipment

    return InboundShipment.objects.for_merchant(merchant).exists()
