"""Vendors and purchase orders."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from fulfil.audit import audit_record
from inventory.models import Product, Warehouse
from warehouse.inbound.models import PurchaseOrder, PurchaseOrderLine, Vendor
from warehouse.inbound.services._common import _mid

# --- Vendors and purchase orders ----------------------------------------------------------------------


def vendor_create(*, merchant, name: str, lead_time_days: int = 14, **fields) -> Vendor:
    with transaction.atomic():
        if Vendor.objects.for_merchant(merchant).filter(name=name).exists():
            raise ValidationError({"name": ["A vendor with this name exists."]})
        vendor = Vendor.objects.create(merchant=merchant, name=name, lead_time_days=lead_time_days, **fields)
        audit_record(
            obj_type="inbound.vendor",
            obj_id=vendor.pk,
            action="created",
            merchant_id=_mid(merchant),
            after={"name": name, "lead_time_days": lead_time_days},
        )
    return vendor


def vendor_update(*, vendor: Vendor, **fields) -> Vendor:
    before = {k: getattr(vendor, k) for k in fields}
    with transaction.atomic():
        for k, v in fields.items():
            setattr(vendor, k, v)
        vendor.save()
        audit_record(
            obj_type="inbound.vendor",
            obj_id=vendor.pk,
            action="updated",
            merchant_id=vendor.merchant_id,
            before=before,
            after=fields,
        )
    return vendor


def purchase_order_create(
    *,
    merchant,
    vendor: Vendor,
    warehouse: Warehouse,
    number: str,
    lines: Iterable[tuple[Product, int, Decimal]],
    expected_on: date | None = None,
    notes: str = "",
) -> PurchaseOrder:
    mid = _mid(merchant)
    if vendor.merchant_id != mid:
        raise ValidationError({"vendor": ["Unknown vendor."]})
    lines = list(lines)
    if not lines:
        raise ValidationError({"lines": ["At least one line."]})
    with transaction.atomic():
        if PurchaseOrder.objects.for_merchant(mid).filter(number=number).exists():
            raise ValidationError({"number": ["A purchase order with this number exists."]})
        po = PurchaseOrder.objects.create(
            merchant_id=mid,
            vendor=vendor,
            warehouse=warehouse,
            number=number,
            expected_on=expected_on,
            notes=notes,
        )
        merged: dict[int, list] = {}
        for product, qty, cost in lines:
            if product.merchant_id != mid:
                raise ValidationError({"lines": [f"Unknown product {product.pk}."]})
            if qty <= 0:
                raise ValidationError({"lines": ["Quantities must be positive."]})
            if product.pk in merged:
                merged[product.pk][1] += qty
            else:
                merged[product.pk] = [product, qty, cost]
        PurchaseOrderLine.objects.bulk_create(
            PurchaseOrderLine(purchase_order=po, product=p, quantity_ordered=q, unit_cost=c)
            for p, q, c in merged.values()
        )
        audit_record(
            obj_type="inbound.purchase_order",
            obj_id=po.pk,
            action="created",
            merchant_id=mid,
            after={"number": number, "vendor": vendor.name, "lines": len(merged)},
        )
    return po
