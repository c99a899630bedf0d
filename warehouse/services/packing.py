"""Packing: open a tote or order at the bench, verify every unit by scan (answering the packing checklist) and
plan the recommended boxes (``warehouse.packing``) for what the tote holds."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction

from inventory import services as inv
from inventory.models import Product, Warehouse
from orders import services as order_services
from orders.models import Order, OrderLine
from warehouse import packing, selectors
from warehouse.exceptions import ScanRefused, WarehouseError
from warehouse.models import BatchOrder, BoxType, FloorMetric, PackSession, PickTask, QcChecklist, QcResult
from warehouse.services.qc import _answers, _quarantine_reserved_unit, _sampled, qc_record
from warehouse.services.scans import ScanResult, _parse, _product_matches, _scan_once

# --- Packing ------------------------------------------------------------------------------------------------


def pack_open(*, warehouse: Warehouse, user, code: str) -> PackSession:
    """Scan a tote (``B00012-3`` or ``TOTE:B00012-3``) or an order number: the packing session for it."""
    code = code.strip()
    scan = _parse(code)
    value = scan.value if scan is not None and scan.kind in ("tote", "text") and scan.value else code
    if value.upper().startswith("TOTE:"):
        value = value[5:]
    bo = (
        BatchOrder.objects.filter(tote__iexact=value, batch__warehouse=warehouse)
        .exclude(status__in=[BatchOrder.Status.SHIPPED])
        .select_related("order")
        .first()
    )
    if bo is not None:
        order = bo.order
    else:
        order = Order.objects.filter(
            number__iexact=value, status__in=[Order.Status.PICKING, Order.Status.PACKED]
        ).first()
        if order is None:
            raise WarehouseError(f"No tote or order to pack for “{code}”.")
        bo = BatchOrder.objects.filter(order=order, batch__warehouse=warehouse).order_by("-pk").first()
        if bo is None:
            raise WarehouseError(f"Order {order.number} was not picked in {warehouse.code}.")
    if bo.status == BatchOrder.Status.PICKING:
        raise WarehouseError(f"Tote {bo.tote} is still being picked.")
    with transaction.atomic():
        session = PackSession.objects.filter(order=order).exclude(status=PackSession.Status.SHIPPED).first()
        if session is None:
            session = PackSession.objects.create(
                merchant_id=order.merchant_id, order=order, warehouse=warehouse, batch_order=bo, packer=user
            )
    return session


def pack_expected(session: PackSession) -> dict[int, int]:
    """{line_id: units to pack}: what this session's tote holds for the order (picked units; a kit line
    counts whole kits, the fewest of its components' picked units per kit)."""
    if session.batch_order_id:
        tasks = PickTask.objects.filter(batch_order_id=session.batch_order_id)
    else:
        tasks = PickTask.objects.filter(
            batch_order__order=session.order, batch_order__batch__warehouse=session.warehouse
        )
    per_product: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for line_id, product_id, n in tasks.values_list("line_id", "product_id", "picked_quantity"):
        per_product[line_id][product_id] += n
    # units that failed the packing checklist went to quarantine: they are not packed
    failed = QcResult.objects.filter(pick_task__in=tasks, stage=QcChecklist.Stage.PACK, passed=False)
    for line_id, product_id, n in failed.values_list("pick_task__line_id", "product_id", "quarantined"):
        per_product[line_id][product_id] -= n
    lines = {ln.pk: ln for ln in OrderLine.objects.filter(pk__in=list(per_product)).select_related("product")}
    out: dict[int, int] = {}
    for line_id, by_product in per_product.items():
        line = lines[line_id]
        if line.product is not None and line.product.is_kit:
            # built kits (picked as the kit) plus whole kits of picked components
            per = {c.component_id: c.quantity for c in line.product.components.all()}
            units = by_product.get(line.product_id, 0) + min(
                (by_product.get(pid, 0) // q for pid, q in per.items() if q), default=0
            )
        else:
            units = sum(by_product.values())
        if units:
            out[line_id] = units
    return out


def pack_verify(*, session: PackSession, user, scan_id: str, code: str) -> ScanResult:
    """Every unit is scanned at the bench; an item that is not (or no longer) due blocks packing."""

    def run() -> ScanResult:
        locked = PackSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != PackSession.Status.VERIFYING:
            raise ScanRefused("This order is already verified.")
        if locked.qc_due:
            raise ScanRefused(f"Answer the quality checklist for {locked.qc_due['sku']} first.")
        expected = pack_expected(locked)
        verified = {int(k): v for k, v in locked.verified.items()}
        lines = {ln.pk: ln for ln in OrderLine.objects.filter(pk__in=expected).select_related("product")}
        for line_id, due in expected.items():
            line = lines[line_id]
            if line.product and _product_matches(code, line.product) and verified.get(line_id, 0) < due:
                verified[line_id] = verified.get(line_id, 0) + 1
                locked.verified = {str(k): v for k, v in verified.items()}
                locked.save(update_fields=["verified"])
                checklist = selectors.qc_checklist_for(
                    product_id=line.product_id, stage=QcChecklist.Stage.PACK
                )
                unit = f"pack:{locked.pk}:{line_id}:{verified[line_id]}"
                if checklist is not None and _sampled(checklist, unit):
                    locked.qc_due = {"line": line_id, "checklist": checklist.pk, "sku": line.sku}
                    locked.save(update_fields=["qc_due"])
                    return ScanResult(True, f"{line.sku} OK — check it: answer the quality checklist.")
                left = sum(expected.values()) - sum(verified.values())
                if left == 0:
                    _pack_done_verifying(locked)
                    return ScanResult(True, "All items verified. Pack in the recommended box.")
                return ScanResult(True, f"{line.sku} OK — {left} more to scan.")
        raise ScanRefused(
            f"“{code}” is not in this order (or all of it is scanned). Put it aside.",
            metric={
                "kind": FloorMetric.Kind.MIS_SCAN,
                "warehouse_id": locked.warehouse_id,
                "user": user,
                "order_id": locked.order_id,
                "value": 1.0,
                "merchant_id": locked.merchant_id,
            },
        )

    return _scan_once(scan_id=scan_id, user=user, screen="pack", code=code, fn=run)


def _pack_done_verifying(session: PackSession) -> None:
    plan = pack_plan(session=session)
    session.plan = _plan_json(plan)
    session.status = PackSession.Status.PACKED
    session.save(update_fields=["plan", "status"])
    order = Order.objects.get(pk=session.order_id)
    if order.status == Order.Status.PICKING:
        order_services.order_mark_packed(order=order)


def pack_items(session: PackSession) -> list[packing.Item]:
    expected = pack_expected(session)
    lines = OrderLine.objects.filter(pk__in=expected).select_related("product")
    rules = selectors.packing_rules(product_ids=[ln.product_id for ln in lines])
    items = []
    for ln in lines:
        p = ln.product
        rule = rules.get(p.pk)
        dims = sorted([p.length_mm or 100, p.width_mm or 100, p.height_mm or 50], reverse=True)
        for u in range(expected[ln.pk]):
            items.append(
                packing.Item(
                    key=f"{ln.pk}:{u}",
                    length=dims[0],
                    width=dims[1],
                    height=dims[2] if not (rule and rule.this_side_up) else (p.height_mm or 50),
                    weight_g=p.weight_g or 100,
                    this_side_up=bool(rule and rule.this_side_up),
                    own_container=p.packaging == Product.Packaging.OWN
                    or bool(rule and rule.ships_in_own_container),
                    no_bag=bool(rule and rule.no_bag) or p.packaging == Product.Packaging.BOX,
                    fragile=p.fragile,
                )
            )
            if rule and rule.this_side_up:
                items[-1] = packing.Item(
                    key=items[-1].key,
                    length=p.length_mm or 100,
                    width=p.width_mm or 100,
                    height=p.height_mm or 50,
                    weight_g=items[-1].weight_g,
                    this_side_up=True,
                    own_container=items[-1].own_container,
                    no_bag=items[-1].no_bag,
                    fragile=items[-1].fragile,
                )
    return items


def _box(b: BoxType) -> packing.BoxType:
    return packing.BoxType(
        code=b.code,
        length=b.length_mm,
        width=b.width_mm,
        height=b.height_mm,
        max_weight_g=b.max_weight_g,
        cost=b.cost,
        kind=b.kind,
        tare_g=b.tare_g,
    )


def pack_plan(*, session: PackSession) -> packing.PackPlan:
    """The recommended parcels: least box + shipping cost (dimensional weight), items truly fitting. A
    merchant with branded boxes that fit gets them."""
    items = pack_items(session)
    merchant = session.order.merchant
    catalog = selectors.box_catalog(warehouse=session.warehouse, merchant=merchant)
    branded = [b for b in catalog if b.merchant_id == merchant.pk]
    if session.order.custom_packaging and branded:
        plan = packing.recommend_boxes(items, [_box(b) for b in branded])
        if all(p.box is not None or not p.oversize for p in plan.parcels):
            return plan
    return packing.recommend_boxes(items, [_box(b) for b in catalog if b.merchant_id is None])


def _plan_json(plan: packing.PackPlan) -> dict:
    return {
        "cost": str(plan.cost),
        "parcels": [
            {
                "box": p.box.code if p.box else "",
                "kind": p.box.kind if p.box else "own",
                "dims": [p.length, p.width, p.height],
                "weight_g": p.weight_g,
                "billable_weight_g": p.billable_weight_g,
                "box_cost": str(p.box_cost),
                "shipping_cost": str(p.shipping_cost),
                "utilisation": round(p.utilisation, 3),
                "oversize": p.oversize,
                "placements": [[str(q.key), q.x, q.y, q.z, q.dx, q.dy, q.dz] for q in p.placements],
            }
            for p in plan.parcels
        ],
    }


def plan_parcels(plan_json: dict) -> list[packing.Parcel]:
    """Rebuild parcels (for the diagram) from a stored plan."""
    out = []
    for p in plan_json.get("parcels", []):
        out.append(
            packing.Parcel(
                box=None,
                placements=[
                    packing.Placement(k, x, y, z, dx, dy, dz) for k, x, y, z, dx, dy, dz in p["placements"]
                ],
                weight_g=p["weight_g"],
                length=p["dims"][0],
                width=p["dims"][1],
                height=p["dims"][2],
                billable_weight_g=p["billable_weight_g"],
                box_cost=Decimal(p["box_cost"]),
                shipping_cost=Decimal(p["shipping_cost"]),
                item_volume=0,
            )
        )
    return out


def pack_qc(
    *, session: PackSession, user, scan_id: str, failed_questions: list[str], reason: str = ""
) -> ScanResult:
    """The packer's answer to the checklist of the unit just scanned. A failure quarantines that unit (with
    the reason) and takes it off this parcel; the order ships without it (the rest stays open)."""

    def run() -> ScanResult:
        locked = PackSession.objects.select_for_update().get(pk=session.pk)
        due = locked.qc_due
        if not due:
            raise ScanRefused("No checklist is due.")
        checklist = QcChecklist.objects.get(pk=due["checklist"])
        line_id = int(due["line"])
        task = (
            PickTask.objects.filter(line_id=line_id, picked_quantity__gt=0)
            .filter(**({"batch_order_id": locked.batch_order_id} if locked.batch_order_id else {}))
            .select_related("product", "location", "line__product", "batch_order__order", "batch__warehouse")
            .order_by("-pk")
            .first()
        )
        if task is None:
            raise ScanRefused("That item was not picked for this order.")
        failed = _answers(failed_questions)
        if failed:
            try:
                _quarantine_reserved_unit(
                    task=task, checklist=checklist, user=user, failed=failed, reason=reason, picked=True
                )
            except inv.InventoryError as exc:
                raise ScanRefused(f"Could not quarantine the unit: {exc}") from exc
            verified = {int(k): v for k, v in locked.verified.items()}
            verified[line_id] = max(0, verified.get(line_id, 0) - 1)
            locked.verified = {str(k): v for k, v in verified.items() if v}
            message = f"{due['sku']} failed ({'; '.join(failed)}): quarantine it — it does not ship."
            ok = False
        else:
            qc_record(
                checklist=checklist,
                product=task.product,
                user=user,
                failed_questions=[],
                order=locked.order,
                pick_task=task,
            )
            message, ok = f"{due['sku']} passed the check.", True
        locked.qc_due = {}
        locked.save(update_fields=["qc_due", "verified"])
        expected = pack_expected(locked)
        verified = {int(k): v for k, v in locked.verified.items()}
        left = sum(expected.values()) - sum(min(verified.get(k, 0), v) for k, v in expected.items())
        if left == 0 and expected:
            _pack_done_verifying(locked)
            return ScanResult(ok, f"{message} All items verified. Pack in the recommended box.")
        if not expected:
            return ScanResult(ok, f"{message} Nothing is left to pack for this order.")
        return ScanResult(ok, f"{message} {left} more to scan.")

    return _scan_once(scan_id=scan_id, user=user, screen="pack", code="QC", fn=run)
