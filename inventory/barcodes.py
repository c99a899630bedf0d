"""GS1 barcodes: UPC-A (12), EAN-8 (8), EAN-13 (13), GTIN-14 (14) — digits with a mod-10 check digit."""

from __future__ import annotations

VALID_LENGTHS = {8: "EAN-8", 12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"}


def gs1_check_digit(body: str) -> int:
    """The check digit for the digits before it: weights 3,1,3,1… from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def barcode_kind(code: str) -> str:
    return VALID_LENGTHS.get(len(code), "")


def validate_barcode(code: str) -> str:
    """An error message, or "" when ``code`` is a valid UPC/EAN/GTIN."""
    code = code.strip()
    if not code.isdigit():
        return "A barcode has digits only."
    if len(code) not in VALID_LENGTHS:
        return "A barcode has 8 (EAN-8), 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14) digits."
    expected = gs1_check_digit(code[:-1])
    if int(code[-1]) != expected:
        return f"The check digit is wrong (the last digit should be {expected}); please re-check the number."
    return ""


def to_gtin14(code: str) -> str:
    """Any valid UPC/EAN as a 14-digit GTIN (for matching scans against the catalog)."""
    return code.strip().zfill(14)
