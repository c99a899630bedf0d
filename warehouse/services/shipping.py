"""Shipping a packed order: labels through the carriers, only the picked units out of the building, the
order marked shipped."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from inventory import services as inv
from inventory.models import Allocation
from orders import services as order_services
from orders.models import Order, OrderLine
from warehouse.exceptions import WarehouseError
from warehouse.models import BatchOrder, FloorMetric, PackSession
from warehouse.services.packing import pack_expected
from warehouse.services.scans import _metric


def pack_ship(*, session: PackSession, user, weight_g: int, connectors=None) -> PackSession:
    """Buy the label(s) through the carriers (idempotent per parcel), take the stock out of the building,
    mark the order shipped. ``weight_g`` is what the scale (or the packer) says for the whole order."""
    from integrations.carriers import services as carrier_services
    from integrations.carriers.base import Parcel

    if weight_g <= 0:
        raise WarehouseError("Weigh the parcel first.")
    session = PackSession.objects.select_related("order", "warehouse").get(pk=session.pk)
    if session.status == PackSession.Status.SHIPPED:
        return session
    if session.status == PackSession.Status.VERIFYING:
        raise WarehouseError("Scan every item before shipping.")
    order = session.order
    parcels = session.plan.get("parcels") or []
    planned_total = sum(p["weight_g"] for p in parcels) or 1
    shipment_ids = list(session.shipment_ids)
    for i, p in enumerate(parcels):
        if i < len(shipment_ids):
            continue
        share = max(1, round(weight_g * p["weight_g"] / planned_total))
        parcel = Parcel(
            weight_g=share,
            length_mm=p["dims"][0],
            width_mm=p["dims"][1],
            height_mm=p["dims"][2],
            hazmat=order.is_hazmat,
            reference=f"{order.number or order.pk}-{i + 1}",
        )
        shipment = carrier_services.shipment_buy_label(
            merchant=order.merchant,
            order=order,
            parcel=parcel,
            from_warehouse=session.warehouse,
            idempotency_key=f"pack:{session.pk}:{i + 1}",
            connectors=connectors,
        )
        shipment_ids.append(shipment.pk)
        PackSession.objects.filter(pk=session.pk).update(
            shipment_ids=shipment_ids, status=PackSession.Status.LABELLED
        )
    with transaction.atomic():
        locked = PackSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == PackSession.Status.SHIPPED:
            return locked
        shipped = _ship_picked(session=locked, order=order)
        fresh = Order.objects.get(pk=order.pk)
        if fresh.status == Order.Status.PICKING:
            order_services.order_mark_packed(order=fresh)
        order_services.order_mark_shipped(
            order=fresh, shipment_id=shipment_ids[0] if shipment_ids else None, lines=shipped
        )
        if fresh.status == Order.Status.PARTIALLY_SHIPPED:
            # the rest stays open: refresh the lines' allocated/backordered counts from inventory
            order_services.reconcile_allocation(order=fresh)
        locked.status, locked.weight_g, locked.finished_at = (
            PackSession.Status.SHIPPED,
            weight_g,
            timezone.now(),
        )
        locked.shipment_ids = shipment_ids
        locked.save(update_fields=["status", "weight_g", "finished_at", "shipment_ids"])
        if locked.batch_order_id:
            BatchOrder.objects.filter(pk=locked.batch_order_id).update(status=BatchOrder.Status.SHIPPED)
        secs = (locked.finished_at - locked.started_at).total_seconds()
        _metric(
            FloorMetric.Kind.PACK_SECONDS,
            warehouse_id=locked.warehouse_id,
            user=user,
            value=secs,
            order=order,
            merchant_id=order.merchant_id,
        )
        for p in parcels:
            if p["kind"] != "own":
                _metric(
                    FloorMetric.Kind.BOX_UTILISATION,
                    warehouse_id=locked.warehouse_id,
                    user=user,
                    value=p["utilisation"],
                    order=order,
                    merchant_id=order.merchant_id,
                )
        audit_record(
            obj_type="warehouse.PackSession",
            obj_id=locked.pk,
            action="shipped",
            merchant_id=order.merchant_id,
            after={"shipments": shipment_ids, "weight_g": weight_g, "boxes": [p["box"] for p in parcels]},
        )
    return locked


def _ship_picked(*, session: PackSession, order: Order) -> dict[int, int]:
    """Only what was picked into the totes leaves the building. inventory's ``stock_ship`` ships a reference's
    whole reservation (picking any unpicked units itself), so for a short-picked line the demand not picked
    is released first, the picked units shipped, and that demand reserved again (allocated if the
    warehouse still shows free stock, else backordered) at the order's place in the queue — all in the
    caller's transaction. Returns ``{line_id: units shipped}`` for ``order_mark_shipped``."""
    picked = pack_expected(session)
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("pk"))
    shipped: dict[int, int] = {}
    for line in lines:
        if line.product_id is None:
            continue  # no stock behind it (never reserved): nothing leaves the shelves for it
        units = picked.get(line.pk, 0)
        if not units:
            continue  # nothing of it in the tote: its reservation stays untouched
        alloc = Allocation.objects.filter(
            merchant_id=order.merchant_id,
            reference=line.reference,
            warehouse_id=session.warehouse_id,
            parent__isnull=True,
            status=Allocation.Status.OPEN,
        ).first()
        rest = (alloc.requested - alloc.shipped - units) if alloc is not None else 0
        if rest > 0:
            inv.stock_release(merchant=order.merchant_id, reference=line.reference, quantity=rest)
        inv.stock_ship(merchant=order.merchant_id, reference=line.reference)
        if rest > 0:
            inv.stock_reserve(
                merchant=order.merchant_id,
                product=line.product,
                warehouse=session.warehouse,
                quantity=rest,
                reference=line.reference,
                priority=max(-32768, min(32767, order.priority)),
                requested_at=order.placed_at,
            )
        shipped[line.pk] = units
    if not shipped:
        raise WarehouseError("Nothing was picked for this order: there is nothing to ship.")
    return shipped
