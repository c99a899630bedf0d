"""Holds: an order's allocations held back from picking, stock held out of availability, safety stock."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from fulfil.audit import audit_record
from inventory.exceptions import InsufficientStock, InventoryError
from inventory.locks import lock_levels, retry_on_deadlock
from inventory.models import (
    Allocation,
    Product,
    StockHold,
    StockLevel,
    Warehouse,
)
from inventory.services.ledger import OPEN, _check_owner, _Effects, _level_add, _mid
from inventory.services.stock import _fill_backorders

# --- Holds ---------------------------------------------------------------------------------------------


@retry_on_deadlock
def allocation_hold(*, merchant, reference: str, on_hold: bool = True) -> int:
    """Puts a reference's reserved stock on hold (it stays reserved, but may not be picked) or releases the
    hold. Returns the number of allocations changed."""
    mid = _mid(merchant)
    changed = Allocation.objects.filter(merchant_id=mid, reference=reference, status=OPEN).update(
        on_hold=on_hold, updated_at=timezone.now()
    )
    if changed:
        audit_record(
            obj_type="allocation",
            obj_id=reference,
            action="hold" if on_hold else "unhold",
            merchant_id=mid,
            after={"on_hold": on_hold},
        )
    return changed


@retry_on_deadlock
def stock_hold(*, merchant, product: Product, warehouse: Warehouse, quantity: int, reason: str) -> StockHold:
    """Takes free units out of availability (QC, a recall, a dispute) until ``stock_hold_release``."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    _check_owner(mid, product)
    done = StockLevel.objects.filter(
        merchant_id=mid,
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        on_hand__gte=F("reserved") + F("held") + quantity,
    ).update(held=F("held") + quantity)
    if not done:
        raise InsufficientStock(f"Fewer than {quantity} unreserved units of {product.sku} to hold.")
    hold = StockHold.objects.create(
        merchant_id=mid, product=product, warehouse=warehouse, quantity=quantity, reason=reason
    )
    audit_record(
        obj_type="stock_hold",
        obj_id=hold.pk,
        action="create",
        merchant_id=mid,
        after={"sku": product.sku, "warehouse": warehouse.code, "quantity": quantity, "reason": reason},
    )
    fx = _Effects(mid)
    fx.touch(product, warehouse.pk)
    fx.flush()
    return hold


@retry_on_deadlock
def stock_hold_release(*, merchant, hold: StockHold) -> None:
    mid = _mid(merchant)
    if hold.merchant_id != mid:
        raise InventoryError("That hold does not belong to this merchant.")
    if not StockHold.objects.filter(pk=hold.pk, released_at__isnull=True).update(released_at=timezone.now()):
        return
    _level_add(
        merchant_id=mid, product_id=hold.product_id, warehouse_id=hold.warehouse_id, held=-hold.quantity
    )
    audit_record(obj_type="stock_hold", obj_id=hold.pk, action="release", merchant_id=mid)
    fx = _Effects(mid)
    _fill_backorders(mid=mid, product_id=hold.product_id, warehouse_id=hold.warehouse_id, fx=fx)
    fx.touch(hold.product_id, hold.warehouse_id)
    fx.flush()


@retry_on_deadlock
def stock_set_safety_stock(*, merchant, product: Product, warehouse: Warehouse, safety_stock: int) -> None:
    if safety_stock < 0:
        raise ValueError("safety stock cannot be negative")
    mid = _mid(merchant)
    _check_owner(mid, product)
    level = lock_levels(merchant_id=mid, pairs=[(product.pk, warehouse.pk)])[(product.pk, warehouse.pk)]
    before = level.safety_stock
    StockLevel.objects.filter(pk=level.pk).update(safety_stock=safety_stock)
    audit_record(
        obj_type="product",
        obj_id=product.pk,
        action="safety_stock",
        merchant_id=mid,
        before={"safety_stock": before, "warehouse": warehouse.code},
        after={"safety_stock": safety_stock, "warehouse": warehouse.code},
    )
    fx = _Effects(mid)
    if safety_stock < before:
        _fill_backorders(mid=mid, product_id=product.pk, warehouse_id=warehouse.pk, fx=fx)
    fx.touch(product, warehouse.pk)
    fx.flush()
