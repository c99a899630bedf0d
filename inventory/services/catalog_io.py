"""Catalog CSV import (preview first, nothing written until confirmed) and export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from fulfil.audit import audit_record
from inventory.barcodes import validate_barcode
from inventory.models import CatalogImport, Product
from inventory.services.catalog import product_create, product_set_components, product_update
from inventory.units import to_grams, to_mm

COLUMNS = [
    "sku",
    "name",
    "description",
    "barcode",
    "weight",
    "weight_unit",
    "length",
    "width",
    "height",
    "dimension_unit",
    "value",
    "currency",
    "hs_code",
    "country_of_origin",
    "fragile",
    "hazmat",
    "un_class",
    "requires_lot_tracking",
    "low_stock_threshold",
    "components",
]
MAX_ROWS = 5000
TRUE = {"1", "true", "yes", "y", "x"}
FALSE = {"", "0", "false", "no", "n"}


@dataclass
class ImportRow:
    line: int
    sku: str
    action: str = ""  # create | update
    errors: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    components: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    errors: list[str] = field(default_factory=list)  # file-level problems

    @property
    def good(self) -> list[ImportRow]:
        return [r for r in self.rows if r.ok]

    @property
    def bad(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.ok]


def _bool(raw: str, name: str, row: ImportRow) -> bool:
    v = (raw or "").strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    row.errors.append(f"{name}: use yes or no, not {raw!r}")
    return False


def catalog_import_parse(*, merchant, content: str) -> ImportPreview:
    """Checks every row and says what would happen; writes nothing."""
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    if not reader.fieldnames or not {"sku", "name"} <= {h.strip().lower() for h in reader.fieldnames}:
        return ImportPreview(
            rows=[], errors=["The first line must be a header with at least sku and name columns."]
        )
    existing = dict(Product.objects.for_merchant(merchant).values_list("sku", "is_kit"))
    rows: list[ImportRow] = []
    seen: dict[str, int] = {}
    file_skus = set()
    for i, raw in enumerate(reader, start=2):
        if i - 1 > MAX_ROWS:
            return ImportPreview(rows=rows, errors=[f"At most {MAX_ROWS} rows per file."])
        rec = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        if not any(rec.values()):
            continue
        row = ImportRow(line=i, sku=rec.get("sku", ""))
        rows.append(row)
        sku = row.sku
        if not sku:
            row.errors.append("sku is empty")
        elif " " in sku or "/" in sku or len(sku) > 64:
            row.errors.append("sku: no spaces or slashes, at most 64 characters")
        elif sku in seen:
            row.errors.append(f"sku {sku} also on line {seen[sku]}")
        else:
            seen[sku] = i
            file_skus.add(sku)
        row.action = "update" if sku in existing else "create"
        f: dict[str, Any] = {}
        if rec.get("name"):
            f["name"] = rec["name"][:255]
        elif row.action == "create":
            row.errors.append("name is empty")
        if rec.get("description"):
            f["description"] = rec["description"]
        if rec.get("barcode"):
            problem = validate_barcode(rec["barcode"])
            if problem:
                row.errors.append(f"barcode {rec['barcode']}: {problem}")
            else:
                f["barcode"] = rec["barcode"]
        try:
            if rec.get("weight"):
                f["weight_g"] = to_grams(rec["weight"], rec.get("weight_unit") or "g")
            for dim in ("length", "width", "height"):
                if rec.get(dim):
                    f[f"{dim}_mm"] = to_mm(rec[dim], rec.get("dimension_unit") or "mm")
        except (ValueError, InvalidOperation) as exc:
            row.errors.append(f"weight/dimensions: {exc}" if str(exc) else "weight/dimensions: not a number")
        for k in ("weight_g", "length_mm", "width_mm", "height_mm"):
            if f.get(k, 0) < 0:
                row.errors.append(f"{k.split('_')[0]} cannot be negative")
        if rec.get("value"):
            try:
                value = Decimal(rec["value"])
                if value < 0:
                    raise InvalidOperation
                f["value"] = value.quantize(Decimal("0.01"))
            except InvalidOperation:
                row.errors.append(f"value {rec['value']!r} is not an amount")
        if rec.get("currency"):
            f["currency"] = rec["currency"].upper()[:3]
        if rec.get("hs_code"):
            f["hs_code"] = rec["hs_code"][:12]
        if rec.get("country_of_origin"):
            c = rec["country_of_origin"].upper()
            if len(c) != 2 or not c.isalpha():
                row.errors.append("country_of_origin: use the 2-letter code, e.g. US")
            f["country_of_origin"] = c[:2]
        for flag in ("fragile", "hazmat", "requires_lot_tracking"):
            if flag in rec:
                f[flag] = _bool(rec[flag], flag, row)
        if rec.get("un_class"):
            f["un_class"] = rec["un_class"][:10]
        if f.get("hazmat") and not f.get("un_class"):
            row.errors.append("hazmat products need a un_class")
        if f.get("un_class") and not f.get("hazmat"):
            row.errors.append("un_class is only for hazmat products")
        if rec.get("low_stock_threshold"):
            if rec["low_stock_threshold"].isdigit():
                f["low_stock_threshold"] = int(rec["low_stock_threshold"])
            else:
                row.errors.append("low_stock_threshold must be a whole number")
        if rec.get("components"):
            for part in rec["components"].split(";"):
                part = part.strip()
                if not part:
                    continue
                csku, _, q = part.partition(":")
                if not q.strip().isdigit() or int(q) < 1:
                    row.errors.append(f"components: {part!r} should look like SKU:2")
                    continue
                row.components.append((csku.strip(), int(q)))
        row.fields = f
    for row in rows:
        for csku, _ in row.components:
            if csku == row.sku:
                row.errors.append("a kit cannot contain itself")
            elif csku not in existing and csku not in file_skus:
                row.errors.append(f"component {csku} is not in your catalog or this file")
            elif existing.get(csku):
                row.errors.append(f"component {csku} is itself a kit")
    return ImportPreview(rows=rows)


def catalog_import_stage(*, merchant, content: str, filename: str = "") -> CatalogImport:
    """Keeps the uploaded file until the merchant confirms the preview."""
    return CatalogImport.objects.create(merchant=merchant, content=content, filename=filename[:200])


def catalog_import_confirm(*, merchant, staged: CatalogImport) -> tuple[int, int, list[ImportRow]]:
    """Writes the good rows of a staged file (bad ones are skipped and returned). Idempotent per file."""
    if staged.merchant_id != merchant.pk:
        raise ValidationError("Not your import.")
    with transaction.atomic():
        staged = CatalogImport.objects.select_for_update().get(pk=staged.pk)
        if staged.status == CatalogImport.Status.CONFIRMED:
            return staged.created_count, staged.updated_count, []
        preview = catalog_import_parse(merchant=merchant, content=staged.content)
        created = updated = 0
        products = {p.sku: p for p in Product.objects.for_merchant(merchant)}
        skipped = list(preview.bad)
        kits = []
        for row in preview.good:
            try:
                with transaction.atomic():
                    if row.sku in products:
                        product_update(product=products[row.sku], **row.fields)
                        updated += 1
                    else:
                        fields = dict(row.fields)
                        products[row.sku] = product_create(
                            merchant=merchant, sku=row.sku, name=fields.pop("name"), **fields
                        )
                        created += 1
            except ValidationError as exc:
                row.errors.extend(exc.messages)
                skipped.append(row)
                continue
            if row.components:
                kits.append(row)
        for row in kits:
            try:
                with transaction.atomic():
                    product_set_components(
                        kit=products[row.sku], components=[(products[s], q) for s, q in row.components]
                    )
            except (ValidationError, KeyError) as exc:
                row.errors.append(f"components: {exc}")
                skipped.append(row)
        staged.status = CatalogImport.Status.CONFIRMED
        staged.created_count, staged.updated_count = created, updated
        staged.save(update_fields=["status", "created_count", "updated_count"])
        audit_record(
            obj_type="catalog_import",
            obj_id=staged.pk,
            action="confirm",
            merchant_id=merchant.pk,
            after={"created": created, "updated": updated, "skipped": len(skipped)},
        )
    return created, updated, skipped


def catalog_export_rows(*, merchant):
    yield COLUMNS
    qs = Product.objects.for_merchant(merchant).prefetch_related("components__component").order_by("sku")
    # components in SKU order, so an export re-imports to the same thing
    for p in qs:
        comps = ";".join(
            f"{kc.component.sku}:{kc.quantity}"
            for kc in sorted(p.components.all(), key=lambda kc: kc.component.sku)
        )
        yield [
            p.sku,
            p.name,
            p.description,
            p.barcode,
            p.weight_g,
            "g",
            p.length_mm,
            p.width_mm,
            p.height_mm,
            "mm",
            f"{p.value:.2f}",
            p.currency,
            p.hs_code,
            p.country_of_origin,
            "yes" if p.fragile else "no",
            "yes" if p.hazmat else "no",
            p.un_class,
            "yes" if p.requires_lot_tracking else "no",
            p.low_stock_threshold if p.low_stock_threshold is not None else "",
            comps,
        ]
