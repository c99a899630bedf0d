"""Scans on the floor's tablets: what a scan matches (location, item, GS1) and the once-per-scan-id rule
every scanning screen goes through (``_scan_once``), plus the floor metrics they record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from inventory.models import Location, Product
from warehouse.exceptions import ScanRefused, WarehouseError
from warehouse.models import FloorMetric, ScanEvent

# --- Scans --------------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    ok: bool
    message: str
    replay: bool = False


def _parse(code: str) -> Any:
    try:
        from warehouse.inbound.gs1 import parse_scan
    except ImportError:  # pragma: no cover - the inbound sub-app ships it
        return None
    try:
        return parse_scan(code)
    except ValueError:
        return None


def _location_matches(code: str, location: Location) -> bool:
    code = code.strip()
    scan = _parse(code)
    if scan is not None and scan.kind == "location":
        return scan.value.upper() == location.code.upper()
    return code.upper() in {location.code.upper(), f"LOC:{location.code}".upper()}


def _product_matches(code: str, product: Product) -> bool:
    code = code.strip()
    scan = _parse(code)
    if scan is not None:
        if scan.gtin and product.barcode:
            return scan.gtin.lstrip("0") == product.barcode.lstrip("0")
        if scan.kind == "sku":
            return scan.value.upper() == product.sku.upper()
        if scan.kind not in ("text", "item"):
            return False
    return code.upper() == product.sku.upper() or (bool(product.barcode) and code == product.barcode)


def _scan_once(*, scan_id: str, user, screen: str, code: str, fn) -> ScanResult:
    """Run ``fn()`` (→ ScanResult) once per ``scan_id``; a repeated id returns the first answer."""
    if not scan_id:
        raise WarehouseError("every scan needs a scan id")
    done = ScanEvent.objects.filter(scan_id=scan_id).first()
    if done is not None:
        return ScanResult(done.ok, done.message, replay=True)
    try:
        with transaction.atomic():
            event = ScanEvent.objects.create(scan_id=scan_id, user=user, screen=screen, code=code[:200])
            try:
                with transaction.atomic():
                    result = fn()
            except ScanRefused as exc:
                result = ScanResult(False, str(exc))
                if exc.metric:
                    FloorMetric.objects.create(**exc.metric)
            event.ok, event.message = result.ok, result.message[:300]
            event.save(update_fields=["ok", "message"])
            return result
    except IntegrityError:  # the same scan raced in twice: the first one wins
        done = ScanEvent.objects.get(scan_id=scan_id)
        return ScanResult(done.ok, done.message, replay=True)


def _metric(kind: str, *, warehouse_id: int, value: float = 1.0, **kw) -> None:
    FloorMetric.objects.create(kind=kind, warehouse_id=warehouse_id, value=value, **kw)
