"""Every write of the outbound floor: waves and batches, picking scans, short picks, packing, shipping, QC.

Calls down into orders (workflow transitions), inventory (``pick_candidates``, ``stock_pick``,
``stock_ship``, ``stock_move``) and the carriers (``shipment_buy_label``). Scans are idempotent by the id the
tablet generates (`ScanEvent`): a retried POST gets the first answer back and changes nothing twice.

One package, split by the floor workflow; callers import from ``warehouse.services``:

- scans (``scans``): ``ScanResult`` and the once-per-scan-id rule ``_scan_once`` every scanning screen uses
- waves (``waves``): ``wave_create``, ``waves_schedule_due`` (cut-off schedule)
- picking (``picking``): ``batch_start``, ``pick_scan``, ``pick_short``, ``pick_qc``
- packing (``packing``): ``pack_open``, ``pack_expected``, ``pack_verify``, ``pack_qc``, ``pack_items``,
  ``pack_plan``, ``plan_parcels``
- shipping (``shipping``): ``pack_ship``
- quality control (``qc``): ``qc_record``, ``qc_due_at_pick``
- replenishment (``replenishment``): ``replenishment_take``, ``replenishment_scan``
- box catalog (``boxes``): ``box_catalog_seed``
"""

from warehouse.exceptions import ScanRefused, WarehouseError
from warehouse.services.boxes import DEFAULT_BOXES, box_catalog_seed
from warehouse.services.packing import (
    pack_expected,
    pack_items,
    pack_open,
    pack_plan,
    pack_qc,
    pack_verify,
    plan_parcels,
)
from warehouse.services.picking import EV_SHORT_PICK, batch_start, pick_qc, pick_scan, pick_short
from warehouse.services.qc import qc_due_at_pick, qc_record
from warehouse.services.replenishment import replenishment_scan, replenishment_take
from warehouse.services.scans import ScanResult
from warehouse.services.shipping import pack_ship
from warehouse.services.waves import CUTOFF_LEAD, EXPEDITED, REPLENISH_BELOW, wave_create, waves_schedule_due

# isort: split
# private helpers other modules import from here (warehouse.kitting, warehouse.views, tests)
from warehouse.services.qc import _sampled  # noqa: F401
from warehouse.services.scans import _product_matches, _scan_once  # noqa: F401

__all__ = [
    "CUTOFF_LEAD",
    "DEFAULT_BOXES",
    "EV_SHORT_PICK",
    "EXPEDITED",
    "REPLENISH_BELOW",
    "ScanRefused",
    "ScanResult",
    "WarehouseError",
    "batch_start",
    "box_catalog_seed",
    "pack_expected",
    "pack_items",
    "pack_open",
    "pack_plan",
    "pack_qc",
    "pack_ship",
    "pack_verify",
    "pick_qc",
    "pick_scan",
    "pick_short",
    "plan_parcels",
    "qc_due_at_pick",
    "qc_record",
    "replenishment_scan",
    "replenishment_take",
    "wave_create",
    "waves_schedule_due",
]
