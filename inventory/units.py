"""Unit conversion for the product form and CSV import: everything is stored in grams and millimetres."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

GRAMS_PER = {
    "g": Decimal("1"),
    "kg": Decimal("1000"),
    "oz": Decimal("28.349523125"),
    "lb": Decimal("453.59237"),
}
MM_PER = {"mm": Decimal("1"), "cm": Decimal("10"), "in": Decimal("25.4"), "m": Decimal("1000")}


def to_grams(value, unit: str) -> int:
    unit = (unit or "g").lower()
    if unit not in GRAMS_PER:
        raise ValueError(f"unknown weight unit {unit!r} (use g, kg, oz or lb)")
    return int((Decimal(str(value)) * GRAMS_PER[unit]).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def to_mm(value, unit: str) -> int:
    unit = (unit or "mm").lower()
    if unit not in MM_PER:
        raise ValueError(f"unknown length unit {unit!r} (use mm, cm, m or in)")
    return int((Decimal(str(value)) * MM_PER[unit]).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_grams(grams: int, unit: str) -> Decimal:
    return (Decimal(grams) / GRAMS_PER[unit]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()


def from_mm(mm: int, unit: str) -> Decimal:
    return (Decimal(mm) / MM_PER[unit]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
