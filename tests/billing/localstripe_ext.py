"""localstripe plus US bank accounts (ACH Direct Debit), run as ``python localstripe_ext.py --port N``.

localstripe (PyPI) knows cards and SEPA only: a ``us_bank_account`` SetupIntent is a "Bad request". This module
starts localstripe's own aiohttp app with the pieces Stripe's API has for US bank accounts, in Stripe's wire
format, so the real ``stripe`` client (and localstripe's Stripe.js) talk to it unchanged:

- ``PaymentMethod`` of ``type=us_bank_account`` (``us_bank_account[routing_number|account_number|
  account_holder_type|account_type]``, ``billing_details[name]`` required); exported with ``bank_name``,
  ``last4``, ``routing_number``, ``fingerprint``, ``networks``.
- ``SetupIntent``: ``payment_method_types`` may hold ``us_bank_account``; ``payment_method_options`` kept;
  confirming with a bank account needs ``mandate_data[customer_acceptance]`` and answers ``requires_action``
  with ``next_action.type == "verify_with_microdeposits"`` (``arrival_date``, ``hosted_verification_url``,
  ``microdeposit_type`` — ``descriptor_code`` by default, ``amounts`` after ``POST /_config/microdeposit_type``).
- ``POST /v1/setup_intents/{id}/verify_microdeposits`` with ``amounts[]`` (test values 32 and 45) or
  ``descriptor_code`` (test value ``SM11AA``): succeeds → status ``succeeded``, a ``Mandate`` (``GET
  /v1/mandates/{id}``) recorded from the accepted mandate data, the method attached to the customer, the
  ``setup_intent.succeeded`` event; a wrong value is a 400 with Stripe's error code
  (``payment_method_microdeposit_verification_amounts_mismatch`` / ``…_descriptor_code_mismatch``); the
  tenth wrong attempt fails the SetupIntent (``…_attempts_exceeded``).
- ``PaymentIntent`` with a verified bank account: needs a mandate (given or the method's own), answers
  ``processing``, emits ``payment_intent.processing``; after ``LOCALSTRIPE_ACH_SETTLE_SECONDS`` (default 0.5)
  the charge settles — ``payment_intent.succeeded``, or for Stripe's failing test accounts
  ``payment_intent.payment_failed`` with the ACH return code (``000111111116`` account_closed,
  ``000222222227`` insufficient_funds).
- The pickle store is not written to ``/tmp`` (each run starts empty; tests run in parallel sessions).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import time

from aiohttp import web
from localstripe import resources as R
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook

SETTLE_SECONDS = float(os.environ.get("LOCALSTRIPE_ACH_SETTLE_SECONDS", "0.5"))
TEST_AMOUNTS = [32, 45]
TEST_DESCRIPTOR_CODE = "SM11AA"
MAX_VERIFY_ATTEMPTS = 10
ACH_FAILURES = {
    "000111111116": ("account_closed", "The customer's bank account has been closed."),
    "000222222227": (
        "insufficient_funds",
        "The customer's account has insufficient funds to cover this payment.",
    ),
}
CONFIG = {"microdeposit_type": "descriptor_code"}
_PENDING: set = set()  # settling debits (a reference keeps each task alive)

R.Store.dump_to_disk = lambda self: None  # no shared /tmp/localstripe.pickle


# --- PaymentMethod: us_bank_account -------------------------------------------------------------------------
_pm_init = R.PaymentMethod.__init__


def _pm_init_ext(self, type=None, billing_details=None, us_bank_account=None, metadata=None, **kwargs):
    if type != "us_bank_account":
        if us_bank_account is not None:
            raise UserError(400, "Bad request")
        return _pm_init(self, type=type, billing_details=billing_details, metadata=metadata, **kwargs)
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    bank = us_bank_account if isinstance(us_bank_account, dict) else None
    if bank is None or not isinstance(billing_details, dict) or not billing_details.get("name"):
        raise UserError(
            400, "Missing required param: billing_details[name].", {"param": "billing_details[name]"}
        )
    routing, account = str(bank.get("routing_number", "")), str(bank.get("account_number", ""))
    if not re.fullmatch(r"\d{9}", routing):
        raise UserError(
            400,
            "Routing number must have 9 digits",
            {"code": "routing_number_invalid", "param": "us_bank_account[routing_number]"},
        )
    if not re.fullmatch(r"\d{4,17}", account):
        raise UserError(
            400,
            "Invalid account number",
            {"code": "account_number_invalid", "param": "us_bank_account[account_number]"},
        )
    holder = bank.get("account_holder_type") or "individual"
    kind = bank.get("account_type") or "checking"
    if holder not in ("individual", "company") or kind not in ("checking", "savings"):
        raise UserError(400, "Bad request")
    R.StripeObject.__init__(self)
    self.type = "us_bank_account"
    self.billing_details = billing_details
    self._account_number = account
    self._verified = False
    self._mandate = None
    self.us_bank_account = {
        "account_holder_type": holder,
        "account_type": kind,
        "bank_name": "STRIPE TEST BANK",
        "financial_connections_account": None,
        "fingerprint": R.fingerprint(routing + account),
        "last4": account[-4:],
        "networks": {"preferred": "ach", "supported": ["ach"]},
        "routing_number": routing,
        "status_details": {},
    }
    self.customer = None
    self.metadata = metadata or {}


def _charging_declined(self):
    if self.type == "us_bank_account":
        return self._account_number in ACH_FAILURES
    return _pm_charging_declined(self)


_pm_charging_declined = R.PaymentMethod._charging_is_declined
R.PaymentMethod.__init__ = _pm_init_ext
R.PaymentMethod._charging_is_declined = _charging_declined


# --- Mandate ------------------------------------------------------------------------------------------------
class Mandate(R.StripeObject):
    object = "mandate"
    _id_prefix = "mandate_"

    def __init__(self, payment_method=None, customer_acceptance=None, **kwargs):
        super().__init__()
        self.payment_method = payment_method
        self.customer_acceptance = customer_acceptance
        self.multi_use = {}
        self.payment_method_details = {
            "type": "us_bank_account",
            "us_bank_account": {"collection_method": "paper"},
        }
        self.status = "active"
        self.type = "multi_use"

    @classmethod
    def _api_create(cls, **data):
        raise UserError(405, "Method Not Allowed")


def _acceptance(mandate_data) -> dict:
    """Stripe's ``mandate_data[customer_acceptance]``: ``type`` online (with ``ip_address`` and
    ``user_agent``) or offline; ``accepted_at`` defaults to now."""
    acc = (mandate_data or {}).get("customer_acceptance") if isinstance(mandate_data, dict) else None
    if not isinstance(acc, dict) or acc.get("type") not in ("online", "offline"):
        raise UserError(400, "You must provide mandate_data[customer_acceptance] to confirm a SetupIntent "
                             "with a us_bank_account PaymentMethod.", {"param": "mandate_data"})  # fmt: skip
    online = acc.get("online") or {}
    if acc["type"] == "online" and not (online.get("ip_address") and online.get("user_agent")):
        raise UserError(400, "Online acceptance needs ip_address and user_agent.",
                        {"param": "mandate_data[customer_acceptance][online]"})  # fmt: skip
    return {"accepted_at": R.try_convert_to_int(acc.get("accepted_at")) or int(time.time()),
            "type": acc["type"], **({"online": online} if acc["type"] == "online" else {"offline": {}})}  # fmt: skip


# --- SetupIntent: us_bank_account + microdeposits -------------------------------------------------------------
_seti_init = R.SetupIntent.__init__


def _seti_init_ext(self, customer=None, usage=None, payment_method_types=None, metadata=None,
                   payment_method_options=None, **kwargs):  # fmt: skip
    types = payment_method_types
    wants_bank = isinstance(types, list) and "us_bank_account" in types
    others = [t for t in types if t != "us_bank_account"] if wants_bank else types
    _seti_init(self, customer=customer, usage=usage, payment_method_types=others or None, metadata=metadata,
               **kwargs)  # fmt: skip
    self.payment_method_types = types or ["card"]
    self.payment_method_options = payment_method_options or {}
    self.mandate = None
    self.last_setup_error = None
    self._mandate_acceptance = None
    self._verify_attempts = 0


_seti_confirm = R.SetupIntent._api_confirm.__func__


def _seti_confirm_ext(cls, id, mandate_data=None, payment_method_options=None, **kwargs):
    obj = cls._api_retrieve(id)
    if payment_method_options:
        obj.payment_method_options = payment_method_options
    acceptance = None
    pm_type = (kwargs.get("payment_method_data") or {}).get("type")
    if kwargs.get("payment_method"):
        pm_type = R.PaymentMethod._api_retrieve(kwargs["payment_method"]).type
    if pm_type == "us_bank_account":
        if "us_bank_account" not in obj.payment_method_types:
            raise UserError(400, "The PaymentMethod type us_bank_account is not in this SetupIntent's "
                                 "payment_method_types.", {"code": "payment_intent_invalid_parameter"})  # fmt: skip
        acceptance = _acceptance(mandate_data)
    obj = _seti_confirm(cls, id, **kwargs)
    pm = R.PaymentMethod._api_retrieve(obj.payment_method) if obj.payment_method else None
    if pm is not None and pm.type == "us_bank_account":
        obj._mandate_acceptance = acceptance or _acceptance(mandate_data)
        method = ((obj.payment_method_options or {}).get("us_bank_account") or {}).get("verification_method")
        if method == "instant":
            raise UserError(400, "Instant verification needs Financial Connections, which this server "
                                 "does not emulate.", {"code": "setup_intent_unexpected_state"})  # fmt: skip
        obj.status = "requires_action"
        obj.next_action = {
            "type": "verify_with_microdeposits",
            "verify_with_microdeposits": {
                "arrival_date": int(time.time()) + 2 * 86400,
                "hosted_verification_url": f"https://payments.stripe.com/microdeposit/sacs_test_{R.random_id(24)}",
                "microdeposit_type": CONFIG["microdeposit_type"],
            },
        }
    return obj


def _verify_microdeposits(id=None, amounts=None, descriptor_code=None, client_secret=None, **kwargs):
    if kwargs:
        raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    obj = R.SetupIntent._api_retrieve(id)
    if client_secret is not None and client_secret != obj.client_secret:
        raise UserError(401, "Unauthorized")
    action = obj.next_action or {}
    if obj.status != "requires_action" or action.get("type") != "verify_with_microdeposits":
        raise UserError(400, f"This SetupIntent's status is {obj.status}; it has no microdeposits to verify.",
                        {"code": "setup_intent_unexpected_state"})  # fmt: skip
    kind = action["verify_with_microdeposits"]["microdeposit_type"]
    if (amounts is None) == (descriptor_code is None):
        raise UserError(400, "Provide either amounts or descriptor_code.")
    if kind == "descriptor_code" and amounts is not None:
        raise UserError(400, "This bank account was verified with a descriptor code, not amounts.",
                        {"code": "payment_method_microdeposit_verification_descriptor_code_mismatch"})  # fmt: skip
    if kind == "amounts" and descriptor_code is not None:
        raise UserError(400, "This bank account was verified with amounts, not a descriptor code.",
                        {"code": "payment_method_microdeposit_verification_amounts_mismatch"})  # fmt: skip
    if amounts is not None:
        values = [R.try_convert_to_int(a) for a in (amounts if isinstance(amounts, list) else [amounts])]
        if len(values) != 2 or not all(isinstance(v, int) for v in values):
            raise UserError(400, "Provide two amounts in cents.", {"param": "amounts"})
        ok = sorted(values) == TEST_AMOUNTS
        code = "payment_method_microdeposit_verification_amounts_mismatch"
        message = "The amounts provided do not match the amounts that were sent to the bank account."
    else:
        ok = str(descriptor_code).strip().upper() == TEST_DESCRIPTOR_CODE
        code = "payment_method_microdeposit_verification_descriptor_code_mismatch"
        message = "The verification code provided does not match the one sent to the bank account."
    pm = R.PaymentMethod._api_retrieve(obj.payment_method)
    if not ok:
        obj._verify_attempts += 1
        if obj._verify_attempts >= MAX_VERIFY_ATTEMPTS:
            obj.status = "requires_payment_method"
            obj.next_action = None
            obj.last_setup_error = {"code": "payment_method_microdeposit_verification_attempts_exceeded",
                                    "message": "You have exceeded the number of allowed verification attempts.",
                                    "type": "invalid_request_error"}  # fmt: skip
            schedule_webhook(R.Event("setup_intent.setup_failed", obj))
            raise UserError(400, obj.last_setup_error["message"], {"code": obj.last_setup_error["code"]})
        left = MAX_VERIFY_ATTEMPTS - obj._verify_attempts
        raise UserError(400, f"{message} You have {left} verification attempts remaining.", {"code": code})
    mandate = Mandate(payment_method=pm.id, customer_acceptance=obj._mandate_acceptance)
    pm._verified, pm._mandate = True, mandate.id
    if obj.customer:
        pm.customer = obj.customer
    obj.mandate = mandate.id
    obj.status = "succeeded"
    obj.next_action = None
    schedule_webhook(R.Event("setup_intent.succeeded", obj))
    return obj


def _mandate_retrieve(id=None, **kwargs):
    return Mandate._api_retrieve(id)


R.SetupIntent.__init__ = _seti_init_ext
R.SetupIntent._api_confirm = classmethod(_seti_confirm_ext)


# --- PaymentIntent / Charge: ACH debits are asynchronous -----------------------------------------------------
_pi_init = R.PaymentIntent.__init__


def _pi_init_ext(self, mandate=None, payment_method_types=None, **kwargs):
    pm_id = kwargs.get("payment_method")
    pm = R.PaymentMethod._api_retrieve(pm_id) if isinstance(pm_id, str) and pm_id.startswith("pm_") else None
    if pm is not None and pm.type == "us_bank_account":
        if payment_method_types is not None and "us_bank_account" not in payment_method_types:
            raise UserError(400, "The PaymentMethod type us_bank_account is not in payment_method_types.")
        if not pm._verified:
            raise UserError(400, "This bank account has not been verified.",
                            {"code": "payment_method_unactivated"})  # fmt: skip
        mandate = mandate or pm._mandate
        if not mandate or Mandate._api_retrieve(mandate).payment_method != pm.id:
            raise UserError(400, "A mandate for this PaymentMethod is required.", {"param": "mandate"})
    elif mandate is not None:
        raise UserError(400, "mandate can only be used with a us_bank_account PaymentMethod.")
    _pi_init(self, payment_method_types=payment_method_types, **kwargs)
    self.payment_method_types = payment_method_types or ["card"]
    self.mandate = mandate


_initialize_charge = R.Charge._initialize_charge


def _initialize_charge_ext(self, on_success=None, on_failure_now=None, on_failure_later=None):
    pm = R.PaymentMethod._api_retrieve(self.payment_method)
    if pm.type != "us_bank_account":
        return _initialize_charge(self, on_success, on_failure_now, on_failure_later)
    self.status = "pending"  # the PaymentIntent answers "processing"
    self.payment_method_details = {"type": "us_bank_account", "us_bank_account": {
        "account_holder_type": pm.us_bank_account["account_holder_type"], "bank_name": "STRIPE TEST BANK",
        "last4": pm.us_bank_account["last4"], "routing_number": pm.us_bank_account["routing_number"]}}  # fmt: skip
    if self.payment_intent:
        schedule_webhook(
            R.Event("payment_intent.processing", R.PaymentIntent._api_retrieve(self.payment_intent))
        )

    async def settle():
        await asyncio.sleep(SETTLE_SECONDS)
        if self._authorized:
            txn = R.BalanceTransaction(amount=self.amount, currency=self.currency, description=self.description,
                                       exchange_rate=1.0, reporting_category="charge", source=self.id,
                                       type="charge")  # fmt: skip
            self.balance_transaction = txn.id
            self.status = "succeeded"
            if on_success:
                on_success()
        else:
            self.status = "failed"
            self.failure_code, self.failure_message = ACH_FAILURES[pm._account_number]
            if on_failure_later:
                on_failure_later()

    _PENDING.add(task := asyncio.ensure_future(settle()))
    task.add_done_callback(_PENDING.discard)


R.PaymentIntent.__init__ = _pi_init_ext
R.Charge._initialize_charge = _initialize_charge_ext


# --- routes ---------------------------------------------------------------------------------------------------
# localstripe's server module builds its routes from ``resources.extra_apis`` when it is imported, so the
# patched confirm and the new endpoints go into that list first, then the server is imported.
R.extra_apis[:] = [
    (m, u, R.SetupIntent._api_confirm if u == "/v1/setup_intents/{id}/confirm" else f)
    for m, u, f in R.extra_apis
]
R.extra_apis.extend((
    ("POST", "/v1/setup_intents/{id}/verify_microdeposits", _verify_microdeposits),
    ("GET", "/v1/mandates/{id}", _mandate_retrieve),
))  # fmt: skip

from localstripe import server  # noqa: E402


async def _config_microdeposit_type(request):
    data = await server.get_post_data(request) or {}
    if data.get("type") not in ("amounts", "descriptor_code"):
        raise UserError(400, "Bad request")
    CONFIG["microdeposit_type"] = data["type"]
    return web.Response()


server.app.router.add_post("/_config/microdeposit_type", _config_microdeposit_type)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    web.run_app(server.app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
