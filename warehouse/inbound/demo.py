"""Demo data (idempotent): a vendor and POs for Acme, an ASN arriving today against one, a QC checklist."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone


def load_demo() -> None:
    from accounts.models import Merchant
    from inventory.models import InboundShipment, Product, Warehouse
    from warehouse.inbound import inv, services
    from warehouse.inbound.models import PurchaseOrder, QcChecklist, Vendor

    merchant = Merchant.objects.filter(slug="acme-outdoor").first()
    wh = Warehouse.objects.filter(code="WH1").first()
    if merchant is None or wh is None:
        return
    products = {p.sku: p for p in Product.objects.for_merchant(merchant)}
    mug, lamp = products.get("ACME-MUG-TI"), products.get("ACME-LAMP-300")
    if mug is None or lamp is None:
        return
    vendor = Vendor.objects.for_merchant(merchant).filter(name="Summit Supply Co.").first()
    if vendor is None:
        vendor = services.vendor_create(
            merchant=merchant,
            name="Summit Supply Co.",
            code="SUMMIT",
            email="orders@summit.example",
            lead_time_days=21,
        )
    for number, lines in (
        ("PO-1042", [(mug, 48, Decimal("6.10")), (lamp, 60, Decimal("11.40"))]),
        ("PO-1043", [(mug, 24, Decimal("6.10")), (lamp, 12, Decimal("11.40"))]),
    ):
        if not PurchaseOrder.objects.for_merchant(merchant).filter(number=number).exists():
            services.purchase_order_create(
                merchant=merchant,
                vendor=vendor,
                warehouse=wh,
                number=number,
                lines=lines,
                expected_on=timezone.localdate(),
            )
    if not InboundShipment.objects.for_merchant(merchant).filter(reference="PO-1043").exists():
        inv.inbound_create(
            merchant=merchant,
            warehouse=wh,
            reference="PO-1043",
            expected_at=timezone.localdate(),
            carrier="FedEx Freight",
            tracking_number="FXF-77001043",
            lines=[(mug, 24), (lamp, 12)],
        )
    if not QcChecklist.objects.for_merchant(merchant).exists():
        services.qc_checklist_create(
            merchant=merchant,
            name="Lamps: visual and power-on",
            category="ACME-LAMP",
            items=["Packaging intact", "No scratches or dents", "Powers on", "Label matches SKU"],
            sample_rate_pct=10,
        )
    from warehouse.inbound.models import ReturnPortalSettings

    if not ReturnPortalSettings.objects.filter(merchant=merchant).exists():
        services.return_portal_update(
            merchant=merchant,
            enabled=True,
            window_days=30,
            allowed_reasons=[],
            prepaid_labels=False,
            instructions="Pack the items in their original box if you still have it.",
        )
