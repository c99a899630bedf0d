"""Demo data for the outbound floor: the standard box catalog in WH1 (when inventory's demo made it)."""

from __future__ import annotations


def load() -> None:
    from inventory.models import Warehouse
    from warehouse.services import box_catalog_seed

    wh = Warehouse.objects.filter(code="WH1").first()
    if wh is not None:
        box_catalog_seed(warehouse=wh)
