"""CSV order upload: parse → preview (orders and row errors) → confirm (each order through
``order_import`` with channel ``csv``). Rows sharing an ``external_id`` are the lines of one order."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

from django.db import transaction

from fulfil.audit import audit_record
from orders.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
from orders.models import CsvImport

COLUMNS = (
    "external_id",
    "number",
    "customer_name",
    "customer_email",
    "ship_to_name",
    "street1",
    "street2",
    "city",
    "state",
    "postal_code",
    "country",
    "phone",
    "sku",
    "quantity",
    "unit_price",
    "shipping_service",
    "priority",
    "gift_message",
    "note",
    "tags",
)
REQUIRED = ("external_id", "sku", "quantity")
MAX_ROWS = 20_000


def parse(text: str) -> tuple[list[dict], list[dict]]:
    """(orders as JSON-able dicts, [{row, message}])."""
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    errors: list[dict] = []
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        return [], [{"row": 1, "message": f"Missing column(s): {', '.join(missing)}."}]
    orders: dict[str, dict] = {}
    for n, raw in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            errors.append({"row": n, "message": f"At most {MAX_ROWS} rows per file."})
            break
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        problems = []
        ext = row.get("external_id", "")
        if not ext:
            problems.append("external_id is empty")
        if not row.get("sku"):
            problems.append("sku is empty")
        try:
            qty = int(row.get("quantity") or "0")
            if qty < 1:
                raise ValueError
        except ValueError:
            problems.append(f"quantity {row.get('quantity')!r} is not a whole number of at least 1")
            qty = 0
        try:
            price = Decimal(row.get("unit_price") or "0")
            if price < 0:
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"unit_price {row.get('unit_price')!r} is not an amount")
            price = Decimal("0")
        service = (row.get("shipping_service") or "standard").lower()
        if service not in ("standard", "expedited", "overnight"):
            problems.append(f"shipping_service {service!r} must be standard, expedited or overnight")
        if problems:
            errors.append({"row": n, "message": "; ".join(problems)})
            continue
        order = orders.setdefault(
            ext,
            {
                "external_id": ext,
                "number": row.get("number", ""),
                "customer_name": row.get("customer_name", ""),
                "customer_email": row.get("customer_email", ""),
                "ship_to": {
                    "name": row.get("ship_to_name") or row.get("customer_name", ""),
                    "street1": row.get("street1", ""),
                    "street2": row.get("street2", ""),
                    "city": row.get("city", ""),
                    "state": row.get("state", ""),
                    "postal_code": row.get("postal_code", ""),
                    "country": (row.get("country") or "US").upper(),
                    "phone": row.get("phone", ""),
                    "email": row.get("customer_email", ""),
                },
                "shipping_service": service,
                "priority": int(row.get("priority") or 0)
                if (row.get("priority") or "0").lstrip("-").isdigit()
                else 0,
                "gift_message": row.get("gift_message", ""),
                "note": row.get("note", ""),
                "tags": [t.strip() for t in (row.get("tags") or "").split(";") if t.strip()],
                "lines": [],
                "rows": [],
            },
        )
        order["lines"].append({"sku": row["sku"], "quantity": qty, "unit_price": str(price)})
        order["rows"].append(n)
    return list(orders.values()), errors


def csv_import_preview(*, merchant, user, filename: str, content: bytes) -> CsvImport:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    orders, errors = parse(text)
    return CsvImport.objects.create(
        merchant=merchant, user=user, filename=filename[:200], orders=orders, errors=errors
    )


def to_canonical(data: dict) -> CanonicalOrder:
    return CanonicalOrder(
        channel="csv",
        external_id=data["external_id"],
        number=data.get("number", ""),
        lines=tuple(
            CanonicalLine(sku=ln["sku"], quantity=int(ln["quantity"]), unit_price=Decimal(ln["unit_price"]))
            for ln in data["lines"]
        ),
        ship_to=CanonicalAddress(**data["ship_to"]),
        customer_name=data.get("customer_name", ""),
        customer_email=data.get("customer_email", ""),
        shipping_service=data.get("shipping_service", "standard"),
        priority=data.get("priority", 0),
        gift_message=data.get("gift_message", ""),
        note=data.get("note", ""),
        tags=tuple(data.get("tags") or ()),
    )


def csv_import_confirm(*, merchant, csv_import: CsvImport) -> dict:
    """Import every valid order of the preview (rows with errors were left out). Idempotent: a second
    confirm imports nothing new."""
    with transaction.atomic():
        locked = CsvImport.objects.select_for_update().get(pk=csv_import.pk, merchant=merchant)
        if locked.status == CsvImport.Status.DONE:
            return locked.result
        from orders.services.batch import order_import_many

        results = order_import_many(merchant=merchant, orders=[to_canonical(d) for d in locked.orders])
        created = sum(1 for order, was_created, _ in results if order is not None and was_created)
        updated = sum(1 for order, was_created, _ in results if order is not None and not was_created)
        failed = [
            {
                "external_id": data["external_id"],
                "message": "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
            }
            for data, (order, _, errors) in zip(locked.orders, results, strict=True)
            if order is None
        ]
        locked.status = CsvImport.Status.DONE
        locked.result = {
            "created": created,
            "updated": updated,
            "failed": failed,
            "skipped_rows": len(locked.errors),
        }
        locked.save(update_fields=["status", "result"])
        audit_record(
            obj_type="csv_import",
            obj_id=locked.pk,
            action="orders.csv_imported",
            merchant_id=merchant.pk,
            after=locked.result,
        )
    csv_import.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked.result
