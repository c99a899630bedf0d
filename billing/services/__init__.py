"""Billing writes. One package, split by subject; every write is importable from ``billing.services``."""

from billing.services.activity import (  # noqa: F401
    carrier_invoice_import,
    estimate_claim,
    estimate_save,
    inbound_charge_received,
    kitting_charge_built,
    line_dispute_open,
    line_dispute_resolve,
    order_charge_shipped,
    order_cost_actual,
    order_cost_estimate,
    return_charge_processed,
    storage_charge_day,
)
from billing.services.cards import (  # noqa: F401
    account_ensure,
    account_update,
    commitment_set,
    credit_override_set,
    cycle_end,
    rate_card_publish,
    standard_card_ensure,
    tax_rate_set,
)
from billing.services.charges import (  # noqa: F401
    Charge,
    RatingContext,
    charge_adjust,
    charge_lines_build,
    charge_rerate,
    charge_rows_build,
    charge_rows_insert,
    charges_record,
)
from billing.services.commitments import (  # noqa: F401
    commitment_period_close,
    commitment_periods_close,
)
from billing.services.invoices import (  # noqa: F401
    invoice_collect,
    invoice_issue,
    invoice_pay_now,
    invoices_issue_due,
    invoices_retry_due,
    notice_add,
    payment_failed,
    payment_processing,
    payment_refund,
    payment_succeeded,
)
from billing.services.payments import (  # noqa: F401
    bank_account_add,
    bank_account_verify,
    customer_ensure,
    payment_method_add,
    payment_method_detach,
    payment_method_make_default,
    payment_method_remove,
    setup_intent_start,
    stripe_event_process,
)
