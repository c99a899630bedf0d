"""The seam to inventory: reserve and release the stock of order lines (reference ``order_line:<id>``) and
mirror inventory's allocations into ``OrderLineAllocation`` / the line's allocated and backordered counts."""

from __future__ import annotations

from orders.models import OrderLine


def _inventory():
    from inventory import services as inventory_services

    return inventory_services


def reserve(*, merchant, line: OrderLine, product, warehouse, quantity: int, priority: int, requested_at):
    return _inventory().stock_reserve(
        merchant=merchant,
        product=product,
        warehouse=warehouse,
        quantity=quantity,
        reference=line.reference,
        priority=max(-32768, min(32767, priority)),
        requested_at=requested_at,
    )


def reserve_many(*, merchant, items: list[tuple]) -> list:
    """Reserve many lines at once, in order: ``items`` are ``(line, product, warehouse, quantity, priority,
    requested_at)``; returns inventory's ``Reserved`` (allocation, units granted now) per item."""
    inventory = _inventory()
    return inventory.stock_reserve_many(
        merchant=merchant,
        requests=[
            inventory.ReserveRequest(
                product=product,
                warehouse=warehouse,
                quantity=quantity,
                reference=line.reference,
                priority=max(-32768, min(32767, priority)),
                requested_at=requested_at,
            )
            for line, product, warehouse, quantity, priority, requested_at in items
        ],
    )


def release(*, merchant, line: OrderLine, quantity: int | None = None) -> int:
    if not getattr(line, "product_id", None):
        return 0  # never reserved: no product behind it
    return _inventory().stock_release(merchant=merchant, reference=line.reference, quantity=quantity)


def hold(*, merchant, line: OrderLine, on_hold: bool) -> None:
    """Keep the line's reserved stock, but stop the warehouse from picking it (or allow it again)."""
    if getattr(line, "product_id", None):
        _inventory().allocation_hold(merchant=merchant, reference=line.reference, on_hold=on_hold)


def sync_line(line: OrderLine) -> OrderLine:
    """Copy inventory's open allocations of this line into its per-warehouse rows and counters."""
    if not getattr(line, "product_id", None):
        line.allocated_quantity = 0
        line.backordered_quantity = 0
        line.save(update_fields=["allocated_quantity", "backordered_quantity"])
        return line
    from inventory.models import Allocation
    from orders.models import OrderLineAllocation

    rows = list(
        Allocation.objects.filter(
            merchant_id=line.order.merchant_id, reference=line.reference, parent__isnull=True
        ).select_related("warehouse")
    )
    seen = set()
    allocated = 0
    for row in rows:
        requested = max(0, row.requested - row.shipped) if row.status == "open" else 0
        got = row.allocated if row.status == "open" else 0
        allocated += got
        seen.add(row.warehouse_id)
        OrderLineAllocation.objects.update_or_create(
            line=line,
            warehouse_id=row.warehouse_id,
            defaults={"requested": requested, "allocated": got, "warehouse_code": row.warehouse.code},
        )
    OrderLineAllocation.objects.filter(line=line).exclude(warehouse_id__in=seen).delete()
    line.allocated_quantity = min(allocated, line.open_quantity)
    line.backordered_quantity = max(0, line.open_quantity - line.allocated_quantity)
    line.save(update_fields=["allocated_quantity", "backordered_quantity"])
    return line
