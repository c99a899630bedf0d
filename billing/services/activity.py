"""Billable activities from the other apps' events: an order shipped (the order's actual cost), units
received, a storage-day per location, a return processed; an order's estimated cost; carrier invoice
reconciliation; line disputes; saved calculator estimates."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from billing import calculator, pricing, selectors, shipping, sources
from billing.exceptions import BillingError
from billing.models import (
    BillingAccount,
    CarrierAdjustment,
    ChargeLine,
    LineDispute,
    OrderCost,
    SavedEstimate,
)
from billing.services.cards import account_ensure
from billing.services.charges import Charge, charge_adjust, charges_record
from fulfil.audit import audit_record

ZERO = Decimal("0")


def _breakdown(priced: pricing.Priced, extra: dict | None = None) -> dict:
    return {
        "lines": [
            {"kind": ln.kind, "category": ln.category, "description": ln.description, "quantity": str(ln.quantity),
             "unit_price": str(ln.unit_price.quantize(Decimal("0.0001"))), "amount": str(ln.amount)}
            for ln in priced.lines
        ],
        "by_category": {k: str(v) for k, v in priced.by_category().items()},
        "tier": priced.tier.name,
        **(extra or {}),
    }  # fmt: skip


def _estimate_shipping(
    profile: sources.OrderProfile, box: shipping.Box
) -> tuple[shipping.ShippingQuote, int]:
    zone = 5
    if profile.dest_zip:
        try:
            zone = shipping.zone_for(profile.origin_zip, profile.dest_zip)
        except ValueError:
            zone = 5
    options = [
        shipping.quote(service=s, zone=zone, weight_g=profile.weight_g + box.tare_g, length_mm=box.length_mm,
                       width_mm=box.width_mm, height_mm=box.height_mm)
        for s in shipping.SERVICES if s.speed == profile.speed
    ] or [shipping.quote(service=shipping.SERVICES[0], zone=zone, weight_g=profile.weight_g + box.tare_g,
                         length_mm=box.length_mm, width_mm=box.width_mm, height_mm=box.height_mm)]  # fmt: skip
    return min(options, key=lambda q: (q.price, q.days)), zone


def order_activities(profile: sources.OrderProfile, *, box: shipping.Box, carrier_cost: Decimal | None,
                     shipping_note: str, byo: bool = False) -> list[pricing.Activity]:  # fmt: skip
    return calculator.order_activities(
        units=profile.units, box_code="custom" if profile.custom_packaging else box.code, fragile=profile.fragile,
        hazmat=profile.hazmat, gift_wrap=profile.gift_wrap, inserts=profile.inserts, kits=profile.kits,
        carrier_cost=carrier_cost, shipping_note=shipping_note, byo=byo,
    )  # fmt: skip


def order_cost_estimate(*, merchant_id: int, order_id: int, at: datetime | None = None) -> OrderCost | None:
    """(Re)compute an order's estimated cost from its lines, products, destination and service level with
    the published shipping table — the same pricing function as invoices. Hot path (every ``order.*`` event):
    two reads of the order book, the card and tier basis from the short memo in ``selectors``, one upsert."""
    order, lines = sources.order_for_estimate(merchant_id, order_id)
    if order is None:
        return None
    at = at or timezone.now()
    profile = sources.order_profile(order, lines=lines)
    box = sources.choose_box(profile)
    ship, zone = _estimate_shipping(profile, box)
    card = selectors.card_in_force_cached(merchant_id, at)
    priced = pricing.price(
        order_activities(profile, box=box, carrier_cost=ship.price, shipping_note=ship.service.label),
        card=card, monthly_orders=selectors.volume_basis_cached(merchant_id, at),
    )  # fmt: skip
    extra = {"box": box.code, "service": ship.service.label, "zone": zone, "billable_lb": ship.billable_lb,
             "days": ship.days, "dest_zip": profile.dest_zip[:10], "origin_zip": profile.origin_zip, "card": card.label}  # fmt: skip
    return _order_cost_upsert(merchant_id=merchant_id, order_id=order_id, number=profile.number[:64],
                              currency=priced.currency, estimated=_breakdown(priced, extra),
                              total=priced.subtotal, at=at)  # fmt: skip


def _order_cost_upsert(*, merchant_id: int, order_id: int, number: str, currency: str, estimated: dict,
                       total: Decimal, at: datetime) -> OrderCost:  # fmt: skip
    """One ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` of the estimate (what ``update_or_create`` did in
    four statements); the actual cost columns are left as they are."""
    table = OrderCost._meta.db_table
    field = OrderCost._meta.get_field("estimated")
    sql = (
        f"INSERT INTO {table} (merchant_id, order_id, order_number, currency, estimated, estimated_total, "  # noqa: S608 - table from model meta, values are parameters
        "estimated_at, actual, actual_total, actual_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL) "
        "ON CONFLICT (merchant_id, order_id) DO UPDATE SET order_number = EXCLUDED.order_number, "
        "currency = EXCLUDED.currency, estimated = EXCLUDED.estimated, estimated_total = EXCLUDED.estimated_total, "
        f"estimated_at = EXCLUDED.estimated_at RETURNING {', '.join(f.column for f in OrderCost._meta.concrete_fields)}"
    )
    if connection.vendor != "postgresql":  # the upsert is Postgres SQL; elsewhere the ORM's way
        cost, _ = OrderCost.objects.update_or_create(
            merchant_id=merchant_id, order_id=order_id,
            defaults={"order_number": number, "currency": currency, "estimated": estimated,
                      "estimated_total": total, "estimated_at": at},
        )  # fmt: skip
        return cost
    params = [merchant_id, order_id, number, currency, field.get_db_prep_save(estimated, connection), total, at,
              OrderCost._meta.get_field("actual").get_db_prep_save({}, connection)]  # fmt: skip
    return next(iter(OrderCost.objects.raw(sql, params)))


def order_charge_shipped(*, merchant_id: int, order_id: int, shipment_id: int | None = None,
                         event_id: int | None = None, at: datetime | None = None) -> int:  # fmt: skip
    """Bill a shipped order (idempotent per order and shipment): fulfillment, pick, packaging by the real box,
    handling, label fee and the real label price (pass-through on the merchant's own carrier account).
    Records the order's actual cost from the same lines."""
    order = sources.order_get(merchant_id, order_id)
    if order is None:
        return 0
    at = at or getattr(order, "shipped_at", None) or timezone.now()
    profile = sources.order_profile(order, shipped_only=True)
    shipments = sources.shipments_for_order(merchant_id, order_id, shipment_id)
    shipment = shipments[0] if shipments else None
    box = sources.box_for_shipment(shipment, profile) if shipment is not None else sources.choose_box(profile)
    if shipment is not None and getattr(shipment, "rate", None) is not None:
        cost, note = (
            Decimal(shipment.rate),
            f"{shipment.carrier} {shipment.service} {shipment.tracking_number}".strip(),
        )
        byo = sources.shipment_is_byo(shipment)
    else:
        quote, _ = _estimate_shipping(profile, box)
        cost, note, byo = quote.price, f"{quote.service.label} (published rate, no label on file)", False
    acts = order_activities(profile, box=box, carrier_cost=cost, shipping_note=note, byo=byo)
    order_ct = ContentType.objects.get_for_model(order)
    part = f":s{shipment_id}" if shipment_id else ""
    charges = []
    for act in acts:
        if act.kind in ("label.fee", pricing.SHIPPING_KIND) and shipment is not None:
            charges.append(Charge(act, f"order:{order_id}{part}:{act.kind}", source=shipment,
                                  source_label=f"Label {shipment.tracking_number or shipment.pk} · order {profile.number}"))  # fmt: skip
        else:
            charges.append(Charge(act, f"order:{order_id}{part}:{act.kind}", source_type_id=order_ct.pk,
                                  source_id=str(order_id), source_label=f"Order {profile.number}"))  # fmt: skip
    with transaction.atomic():
        BillingAccount.objects.select_for_update().filter(
            pk=account_ensure(merchant=order.merchant).pk
        ).first()
        created = charges_record(merchant=merchant_id, charges=charges, occurred_at=at, event_id=event_id)
        order_cost_actual(merchant_id=merchant_id, order_id=order_id, number=profile.number,
                          extra={"box": box.code, "service": note})  # fmt: skip
    return created


def order_cost_actual(
    *, merchant_id: int, order_id: int, number: str = "", extra: dict | None = None
) -> OrderCost:
    """The order's actual cost: the sum of its charge lines (all shipments, corrections included)."""
    keys = ChargeLine.objects.filter(merchant_id=merchant_id, source_key__startswith=f"order:{order_id}:")
    lines = list(keys) + list(
        ChargeLine.objects.filter(
            merchant_id=merchant_id, corrects__source_key__startswith=f"order:{order_id}:"
        )
    )
    by_cat: dict[str, Decimal] = {}
    for ln in lines:
        by_cat[ln.category] = by_cat.get(ln.category, ZERO) + ln.amount
    total = sum(by_cat.values(), ZERO)
    data = {
        "lines": [{"kind": ln.kind, "category": ln.category, "description": ln.description,
                   "quantity": str(ln.quantity), "unit_price": str(ln.unit_price.quantize(Decimal("0.0001"))),
                   "amount": str(ln.amount), "charge_line_id": ln.pk} for ln in lines],
        "by_category": {k: str(v) for k, v in by_cat.items()},
        "tier": lines[0].tier if lines else "",
        **(extra or {}),
    }  # fmt: skip
    cost, _ = OrderCost.objects.update_or_create(
        merchant_id=merchant_id, order_id=order_id,
        defaults={"actual": data, "actual_total": total, "actual_at": timezone.now(),
                  **({"order_number": number[:64]} if number else {})},
    )  # fmt: skip
    return cost


def inbound_charge_received(
    *, merchant_id: int, inbound_shipment_id: int, event_id: int | None = None
) -> int:
    """Bill units received on an inbound shipment so far (each receipt bills only the new units)."""
    shipment = sources.inbound_shipment(merchant_id, inbound_shipment_id)
    if shipment is None:
        return 0
    total = sources.inbound_units_received(shipment)
    with transaction.atomic():
        from accounts.models import Merchant

        merchant = Merchant.objects.get(pk=merchant_id)
        BillingAccount.objects.select_for_update().filter(pk=account_ensure(merchant=merchant).pk).first()
        billed = (
            ChargeLine.objects.filter(
                merchant_id=merchant_id,
                kind="receiving.unit",
                source_key__startswith=f"inbound:{inbound_shipment_id}:",
            ).aggregate(q=Sum("quantity"))["q"]
            or ZERO
        )
        new = Decimal(total) - billed
        if new <= 0:
            return 0
        label = f"Inbound {getattr(shipment, 'reference', '') or shipment.pk}"
        return charges_record(
            merchant=merchant_id,
            charges=[Charge(pricing.Activity("receiving.unit", new), f"inbound:{inbound_shipment_id}:upto:{total}",
                            source=shipment, source_label=label)],
            occurred_at=timezone.now(), event_id=event_id,
        )  # fmt: skip


def kitting_charge_built(*, merchant_id: int, payload: dict, event_id: int | None = None) -> int:
    """Bill the rate card's kitting fee per kit from ``inventory.kits_built`` {merchant_id, kit_id, sku,
    warehouse_id, warehouse, quantity, task_id, reference}. Linked to the build-kit task (or the kit when it was
    built outside a task); a task built in parts bills each part; one line per event (idempotent)."""
    quantity = int(payload.get("quantity") or 0)
    if quantity <= 0:
        return 0
    task_id = payload.get("task_id")
    source = sources.kit_task_get(merchant_id, task_id) if task_id else None
    if source is None:
        source = sources.product_get(merchant_id, payload.get("kit_id") or 0)
    sku, where = payload.get("sku", ""), payload.get("warehouse", "")
    label = f"Kit build task {task_id}" if task_id else f"Kits built {sku}"
    key = (
        f"kitting:event:{event_id}"
        if event_id
        else f"kitting:{payload.get('reference') or task_id}:{quantity}"
    )
    note = f"{quantity} × {sku}" + (f" at {where}" if where else "")
    return charges_record(
        merchant=merchant_id,
        charges=[Charge(pricing.Activity("kitting.kit", Decimal(quantity), note=note), key, source=source,
                        source_label=label)],
        occurred_at=timezone.now(), event_id=event_id,
    )  # fmt: skip


def return_charge_processed(*, merchant_id: int, payload: dict, event_id: int | None = None) -> int:
    rma_id = payload.get("rma_id")
    units = sum(int(u.get("quantity", 1)) for u in payload.get("units", [])) or 1
    rma = sources.return_get(merchant_id, rma_id) if rma_id else None
    label = f"Return {payload.get('rma_number') or rma_id}"
    acts = [pricing.Activity("returns.order", note=payload.get("reason", ""))]
    if units > 1:
        acts.append(pricing.Activity("returns.unit", Decimal(units - 1)))
    charges = [
        Charge(a, f"return:{rma_id}:{a.kind}", source=rma, source_label=label) if rma is not None
        else Charge(a, f"return:{rma_id}:{a.kind}", source_label=label)
        for a in acts
    ]  # fmt: skip
    return charges_record(merchant=merchant_id, charges=charges, event_id=event_id)


def storage_charge_day(*, day: date) -> int:
    """The nightly storage run: one line per occupied location per merchant for ``day`` (1/30 of the monthly
    rate), plus the long-term surcharge. Idempotent per (day, location)."""
    at = datetime.combine(day, time(23, 59), tzinfo=UTC)
    by_merchant: dict[int, list[Charge]] = {}
    for occ in sources.storage_occupancy(as_of=at):
        loc = occ.location
        label = f"{loc.code} on {day:%Y-%m-%d}"
        charges = by_merchant.setdefault(occ.merchant_id, [])
        charges.append(Charge(pricing.Activity(occ.kind, occ.quantity, fraction=Decimal(1) / 30, note=label),
                              f"storage:{day:%Y-%m-%d}:{loc.pk}", source=loc, source_label=f"Storage-day {label}"))  # fmt: skip
        if occ.long_term_cubic_feet:
            charges.append(Charge(
                pricing.Activity("storage.long_term_cubic_foot", occ.long_term_cubic_feet, fraction=Decimal(1) / 30,
                                 note=label),
                f"storage:{day:%Y-%m-%d}:{loc.pk}:long_term", source=loc, source_label=f"Storage-day {label}",
            ))  # fmt: skip
    created = 0
    for merchant_id, charges in by_merchant.items():
        created += charges_record(merchant=merchant_id, charges=charges, occurred_at=at)
    return created


# --- Carrier invoice reconciliation ------------------------------------------------------------------------

CSV_COLUMNS = ("tracking_number", "billed_amount", "reason")


def carrier_invoice_import(*, content: str, import_ref: str, merchant=None) -> dict:
    """Import a carrier's (or EasyPost's) billed amounts: CSV with ``tracking_number, billed_amount`` and
    optional ``reason`` (reweigh | address_correction), ``billed_weight_oz``, ``declared_weight_oz``,
    ``billed_dims``, ``corrected_address``, ``carrier_invoice``. Each row is matched to its label; a
    difference from what we charged becomes an adjustment line linked to the label, with the row as evidence.
    Idempotent per (tracking number, reason, import_ref)."""
    reader = csv.DictReader(io.StringIO(content))
    missing = [c for c in CSV_COLUMNS[:2] if c not in (reader.fieldnames or [])]
    if missing:
        raise BillingError(
            f"The CSV needs the columns {', '.join(CSV_COLUMNS[:2])} (missing {', '.join(missing)})."
        )
    result = {"matched": 0, "adjusted": 0, "unmatched": [], "unchanged": 0}
    for row in reader:
        tracking = (row.get("tracking_number") or "").strip()
        try:
            billed = Decimal((row.get("billed_amount") or "").strip().lstrip("$"))
        except InvalidOperation:
            result["unmatched"].append(tracking or "(blank)")
            continue
        shipment = sources.shipment_by_tracking(merchant.pk if merchant else None, tracking)
        if shipment is None:
            result["unmatched"].append(tracking)
            continue
        result["matched"] += 1
        charged = (
            ChargeLine.objects.filter(merchant_id=shipment.merchant_id, kind=pricing.SHIPPING_KIND,
                                      source_id=str(shipment.pk),
                                      source_type=ContentType.objects.get_for_model(shipment))
            .aggregate(a=Sum("amount"))["a"]
        )  # fmt: skip
        charged = charged if charged is not None else Decimal(getattr(shipment, "rate", 0) or 0)
        prior = CarrierAdjustment.objects.filter(
            merchant_id=shipment.merchant_id, tracking_number=tracking
        ).aggregate(a=Sum("billed_amount"), c=Sum("charged_amount"))
        already = (prior["a"] or ZERO) - (prior["c"] or ZERO)
        diff = billed - charged - already
        if diff == 0:
            result["unchanged"] += 1
            continue
        reason = (row.get("reason") or "").strip().lower() or CarrierAdjustment.Reason.REWEIGH
        if reason not in CarrierAdjustment.Reason.values:
            reason = CarrierAdjustment.Reason.OTHER
        evidence = {k: v for k, v in row.items() if k and v}
        from accounts.models import Merchant

        m = Merchant.objects.get(pk=shipment.merchant_id)
        label = CarrierAdjustment.Reason(reason).label
        with transaction.atomic():
            adj, created = CarrierAdjustment.objects.get_or_create(
                merchant=m, tracking_number=tracking, reason=reason, import_ref=import_ref,
                defaults={"shipment_id": shipment.pk, "charged_amount": charged + already, "billed_amount": billed,
                          "evidence": evidence},
            )  # fmt: skip
            if not created:
                continue
            line = charge_adjust(
                merchant=m, amount=diff, category=pricing.SHIPPING, source=shipment,
                reason=f"Carrier {label.lower()} on {tracking}: billed {billed:.2f}, charged {charged + already:.2f}",
                key=f"carrier-adj:{tracking}:{reason}:{import_ref}"[:160],
            )  # fmt: skip
            CarrierAdjustment.objects.filter(pk=adj.pk).update(charge_line=line)
            audit_record(obj_type="billing.carrieradjustment", obj_id=adj.pk, action="imported", merchant_id=m.pk,
                         after={"tracking": tracking, "diff": diff, "evidence": evidence})  # fmt: skip
        result["adjusted"] += 1
    return result


# --- Disputes on lines ---------------------------------------------------------------------------------------


def line_dispute_open(*, merchant, line: ChargeLine, reason: str) -> LineDispute:
    if line.merchant_id != merchant.pk:
        raise BillingError("Not found.")
    if not reason.strip():
        raise BillingError("Say what is wrong with this charge.")
    if LineDispute.objects.filter(line=line, status=LineDispute.Status.OPEN).exists():
        raise BillingError("This charge is already disputed.")
    with transaction.atomic():
        dispute = LineDispute.objects.create(merchant=merchant, line=line, reason=reason.strip())
        audit_record(obj_type="billing.linedispute", obj_id=dispute.pk, action="opened", merchant_id=merchant.pk,
                     after={"line": line.pk, "reason": reason})  # fmt: skip
    return dispute


def line_dispute_resolve(*, dispute: LineDispute, accept: bool, resolution: str,
                         credit: Decimal | None = None) -> LineDispute:  # fmt: skip
    """Operator decision. Accepting adds a credit line (default: the whole line) on the next invoice."""
    with transaction.atomic():
        dispute = (
            LineDispute.objects.select_for_update().select_related("line", "merchant").get(pk=dispute.pk)
        )
        if dispute.status != LineDispute.Status.OPEN:
            raise BillingError("This dispute is already resolved.")
        if accept:
            amount = credit if credit is not None else dispute.line.amount
            if amount <= 0 or amount > dispute.line.amount:
                raise BillingError("The credit must be positive and at most the disputed line.")
            dispute.credit_line = charge_adjust(
                merchant=dispute.merchant, amount=-amount, corrects=dispute.line,
                reason=f"Credit for disputed charge: {resolution or dispute.reason}"[:300],
                key=f"dispute:{dispute.pk}",
            )  # fmt: skip
        dispute.status = LineDispute.Status.ACCEPTED if accept else LineDispute.Status.REJECTED
        dispute.resolution = resolution
        dispute.resolved_at = timezone.now()
        dispute.save()
        audit_record(obj_type="billing.linedispute", obj_id=dispute.pk, action=dispute.status,
                     merchant_id=dispute.merchant_id, after={"resolution": resolution})  # fmt: skip
    return dispute


# --- Calculator estimates ------------------------------------------------------------------------------------


def estimate_save(
    *, inputs: dict, quote: calculator.Quote, card: pricing.RateCard, merchant=None
) -> SavedEstimate:
    summary = {
        "tier": quote.tier.name,
        "per_order": str(quote.per_order_total),
        "monthly": str(quote.monthly.total),
        "method": quote.method.service.label,
        "card": card.label,
        "breakdown": {k: str(v) for k, v in quote.breakdown().items()},
    }
    return SavedEstimate.objects.create(inputs=inputs, summary=summary, rate_versions=list(card.versions),
                                        merchant=merchant)  # fmt: skip


def estimate_claim(*, merchant, token: str) -> SavedEstimate | None:
    est = SavedEstimate.objects.filter(token=token, merchant__isnull=True).first()
    if est is not None:
        SavedEstimate.objects.filter(pk=est.pk, merchant__isnull=True).update(merchant=merchant)
        est.merchant = merchant
    return est
