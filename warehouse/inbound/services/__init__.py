"""Writes of the receiving floor and stock control. Every unit moves through ``inventory.services``
(``inbound_receive``/``stock_receive``, ``stock_move``, ``stock_adjust``); this module records what the floor
did, decides (putaway slot, recount, approval, grade) and tells other apps through the outbox.

One package, split by the floor workflow; callers import from ``warehouse.inbound.services``:

- vendors and purchase orders (``vendors``): ``vendor_create``, ``vendor_update``, ``purchase_order_create``
- receiving (``receiving``): ``receiving_start``, ``receipts_record_many`` (``ScanIn`` → ``ScanOut``),
  ``receipt_record``, ``receiving_complete``
- putaway (``putaway``): ``putaway_confirm``
- quality control (``qc``): ``qc_checklist_create``, ``qc_inspection_record``, ``qc_should_sample``,
  ``qc_sample_size``
- cycle counts (``counts``): ``count_create``, ``count_trigger_short_pick``, ``count_trigger_location_empty``,
  ``count_submit``, ``count_approve``, ``count_settings_update``, ``abc_classify_warehouse``,
  ``count_schedule_run``
- returns and the customer return portal (``returns``): ``return_open``, ``return_buy_label``,
  ``return_portal_update``, ``return_portal_open``, ``return_receive_unit``, ``return_complete``,
  ``return_returnable``
- shared (``_common``): ``FloorError`` (the floor's refusal, shown to the user as a 409)
"""

from warehouse.inbound.services._common import FloorError
from warehouse.inbound.services.counts import (
    EV_COUNT_ADJUSTED,
    abc_classify_warehouse,
    count_approve,
    count_create,
    count_schedule_run,
    count_settings_update,
    count_submit,
    count_trigger_location_empty,
    count_trigger_short_pick,
)
from warehouse.inbound.services.putaway import putaway_confirm
from warehouse.inbound.services.qc import (
    EV_QC_FAILED,
    qc_checklist_create,
    qc_inspection_record,
    qc_sample_size,
    qc_should_sample,
)
from warehouse.inbound.services.receiving import (
    EV_RECEIVING_DONE,
    ScanIn,
    ScanOut,
    receipt_record,
    receipts_record_many,
    receiving_complete,
    receiving_start,
)
from warehouse.inbound.services.returns import (
    EV_RETURN_OPENED,
    EV_RETURN_PROCESSED,
    RETURNABLE_ORDER_STATUSES,
    return_buy_label,
    return_complete,
    return_open,
    return_portal_open,
    return_portal_update,
    return_receive_unit,
    return_returnable,
)
from warehouse.inbound.services.vendors import purchase_order_create, vendor_create, vendor_update

__all__ = [
    "EV_COUNT_ADJUSTED",
    "EV_QC_FAILED",
    "EV_RECEIVING_DONE",
    "EV_RETURN_OPENED",
    "EV_RETURN_PROCESSED",
    "RETURNABLE_ORDER_STATUSES",
    "FloorError",
    "ScanIn",
    "ScanOut",
    "abc_classify_warehouse",
    "count_approve",
    "count_create",
    "count_schedule_run",
    "count_settings_update",
    "count_submit",
    "count_trigger_location_empty",
    "count_trigger_short_pick",
    "purchase_order_create",
    "putaway_confirm",
    "qc_checklist_create",
    "qc_inspection_record",
    "qc_sample_size",
    "qc_should_sample",
    "receipt_record",
    "receipts_record_many",
    "receiving_complete",
    "receiving_start",
    "return_buy_label",
    "return_complete",
    "return_open",
    "return_portal_open",
    "return_portal_update",
    "return_receive_unit",
    "return_returnable",
    "vendor_create",
    "vendor_update",
]
