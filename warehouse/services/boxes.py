"""The box catalog of a warehouse: the standard boxes, seeded idempotently."""

from __future__ import annotations

from decimal import Decimal

from inventory.models import Warehouse
from warehouse.models import BoxType

# --- Box catalog --------------------------------------------------------------------------------------------

DEFAULT_BOXES = [
    # code, name, kind, L, W, H (mm inside), max weight g, cost
    ("PB-S", "Poly bag S", "poly_bag", 250, 200, 50, 1500, "0.12"),
    ("PB-L", "Poly bag L", "poly_bag", 400, 300, 80, 3000, "0.20"),
    ("ML-S", "Padded mailer S", "mailer", 230, 160, 40, 1000, "0.35"),
    ("ML-L", "Padded mailer L", "mailer", 330, 250, 60, 2000, "0.55"),
    ("BX-1", "Box 6×4×4 in", "box", 152, 102, 102, 10000, "0.38"),
    ("BX-2", "Box 8×6×4 in", "box", 203, 152, 102, 15000, "0.48"),
    ("BX-3", "Box 10×8×6 in", "box", 254, 203, 152, 20000, "0.72"),
    ("BX-4", "Box 12×10×8 in", "box", 305, 254, 203, 25000, "0.95"),
    ("BX-5", "Box 14×12×10 in", "box", 356, 305, 254, 25000, "1.25"),
    ("BX-6", "Box 16×14×12 in", "box", 406, 356, 305, 30000, "1.60"),
    ("BX-7", "Box 20×16×14 in", "box", 508, 406, 356, 30000, "2.20"),
    ("BX-8", "Box 24×18×18 in", "box", 610, 457, 457, 32000, "3.10"),
]


def box_catalog_seed(*, warehouse: Warehouse) -> int:
    """Load the standard 12-box catalog into a warehouse (idempotent). Returns boxes created."""
    created = 0
    for code, name, kind, length, width, height, max_w, cost in DEFAULT_BOXES:
        _, new = BoxType.objects.get_or_create(
            warehouse=warehouse,
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "length_mm": length,
                "width_mm": width,
                "height_mm": height,
                "max_weight_g": max_w,
                "cost": Decimal(cost),
                "tare_g": 30 if kind in ("poly_bag", "mailer") else 150,
            },
        )
        created += int(new)
    return created
