"""Inventory's write services. Every change to the catalog, the warehouses or stock is one of these.

Split by subject (``stock``, ``kits``, ``inbound``, ``catalog``, ``channels``, ``warehouses``) and re-exported
here, so callers write ``from inventory.services import stock_reserve``.
"""

from inventory.exceptions import AllocationOnHold, InsufficientStock, InventoryError
from inventory.services.bulk import ReserveRequest, stock_reserve_many  # noqa: F401 - re-exported
from inventory.services.catalog import (
    catalog_activate,
    product_create,
    product_photo_add,
    product_photo_delete,
    product_set_components,
    product_update,
)
from inventory.services.catalog_io import (
    catalog_export_rows,
    catalog_import_confirm,
    catalog_import_parse,
    catalog_import_stage,
)
from inventory.services.channels import channel_rule_delete, channel_rule_save
from inventory.services.holds import allocation_hold, stock_hold, stock_hold_release, stock_set_safety_stock
from inventory.services.inbound import ReceiptLine, inbound_cancel, inbound_create, inbound_receive
from inventory.services.kits import EV_KITS_BUILT, EV_KITS_UNBUILT, kit_build, kit_unbuild
from inventory.services.ledger import (
    EV_ALLOCATION_CHANGED,
    EV_AVAILABLE_CHANGED,
    EV_LOW_STOCK,
    EV_RECEIVED,
    packing_location,
    quarantine_location,
    receiving_location,
)
from inventory.services.movements import stock_adjust, stock_count, stock_move, stock_receive
from inventory.services.shipping import stock_pick, stock_ship
from inventory.services.stock import backorders_fill, stock_release, stock_reserve
from inventory.services.warehouses import LayoutSpec, layout_generate, location_code, warehouse_create

__all__ = [
    "EV_ALLOCATION_CHANGED",
    "EV_AVAILABLE_CHANGED",
    "EV_KITS_BUILT",
    "EV_KITS_UNBUILT",
    "EV_LOW_STOCK",
    "EV_RECEIVED",
    "AllocationOnHold",
    "InsufficientStock",
    "InventoryError",
    "LayoutSpec",
    "ReceiptLine",
    "allocation_hold",
    "backorders_fill",
    "catalog_activate",
    "catalog_export_rows",
    "catalog_import_confirm",
    "catalog_import_parse",
    "catalog_import_stage",
    "channel_rule_delete",
    "channel_rule_save",
    "inbound_cancel",
    "inbound_create",
    "inbound_receive",
    "kit_build",
    "kit_unbuild",
    "layout_generate",
    "location_code",
    "packing_location",
    "product_create",
    "product_photo_add",
    "product_photo_delete",
    "product_set_components",
    "product_update",
    "quarantine_location",
    "receiving_location",
    "stock_adjust",
    "stock_count",
    "stock_hold",
    "stock_hold_release",
    "stock_move",
    "stock_pick",
    "stock_receive",
    "stock_release",
    "stock_reserve",
    "stock_set_safety_stock",
    "stock_ship",
    "warehouse_create",
]
