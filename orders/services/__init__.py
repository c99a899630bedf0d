"""Every write of the order book. Callers (views, API, channels, the warehouse) import from here:

- import: ``order_import``
- workflow: ``order_release``, ``order_start_picking``, ``order_mark_packed``, ``order_mark_shipped``,
  ``order_mark_delivered``, ``order_cancel``, ``order_hold``, ``order_unhold``, ``orders_release_held``
  (release guards: ``orders.guards``)
- processing (Celery): ``order_process``, ``order_validate``, ``order_allocate``, ``reconcile_allocation``
- changes: ``order_change_address``, ``order_change_lines``, ``order_change_service``,
  ``order_set_priority``, ``order_request_intercept``, ``order_retry``, ``sku_mapping_create``
- privacy: ``customer_redact``, ``order_redact_customer``, ``customer_data_export``
"""

from orders.services.batch import order_import_many, orders_process_batch
from orders.services.bulk import orders_bulk
from orders.services.changes import (
    order_cancel,
    order_change_address,
    order_change_lines,
    order_change_service,
    order_request_intercept,
    order_retry,
    order_set_priority,
    sku_mapping_create,
)
from orders.services.csv_import import csv_import_confirm, csv_import_preview
from orders.services.importing import order_import
from orders.services.processing import order_allocate, order_process, order_validate, reconcile_allocation
from orders.services.redaction import customer_data_export, customer_redact, order_redact_customer
from orders.services.workflow import (
    order_hold,
    order_mark_delivered,
    order_mark_packed,
    order_mark_shipped,
    order_release,
    order_start_picking,
    order_unhold,
    orders_release_held,
)

__all__ = [
    "csv_import_confirm",
    "csv_import_preview",
    "customer_data_export",
    "customer_redact",
    "order_allocate",
    "order_cancel",
    "order_change_address",
    "order_change_lines",
    "order_change_service",
    "order_hold",
    "order_import",
    "order_import_many",
    "order_mark_delivered",
    "order_mark_packed",
    "order_mark_shipped",
    "order_process",
    "order_redact_customer",
    "order_release",
    "order_request_intercept",
    "order_retry",
    "order_set_priority",
    "order_start_picking",
    "order_unhold",
    "order_validate",
    "orders_bulk",
    "orders_process_batch",
    "orders_release_held",
    "reconcile_allocation",
    "sku_mapping_create",
]
