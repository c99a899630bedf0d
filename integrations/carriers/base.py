"""The carrier layer's small interface (Karrio-like): dataclasses in our units and one ``Carrier`` protocol.

Our units everywhere: grams, millimetres, ``Decimal`` money with a currency. Each provider package
(``integrations/carriers/easypost/``) maps these to and from its own wire format in a pure ``mapper.py`` and
does its I/O in ``client.py``. Services receive a ``Carrier`` (from ``registry.connector_for``) so tests can
hand in a fake without patching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

ZERO = Decimal("0.00")

# Our carrier codes and the display names providers use.
CARRIER_NAMES = {"usps": "USPS", "ups": "UPS", "fedex": "FedEx", "dhl_express": "DHL Express"}

_PO_BOX = re.compile(r"\b(p\.?\s*o\.?\s*box|post\s+office\s+box|pob)\b", re.IGNORECASE)
_MILITARY_CITY = {"APO", "FPO", "DPO"}
_MILITARY_STATE = {"AA", "AE", "AP"}


@dataclass(frozen=True)
class Address:
    name: str = ""
    company: str = ""
    street1: str = ""
    street2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = "US"
    phone: str = ""
    email: str = ""
    residential: bool | None = None

    @classmethod
    def from_dict(cls, data: dict | None) -> Address:
        data = data or {}
        names = set(cls.__dataclass_fields__)
        clean = {k: ("" if v is None and k != "residential" else v) for k, v in data.items() if k in names}
        if "zip" in data and "postal_code" not in data:
            clean["postal_code"] = data["zip"] or ""
        return cls(**clean)

    @classmethod
    def from_object(cls, obj, *, prefix: str = "") -> Address:
        """From a model with address attributes (a Warehouse, or an Order with ``prefix="ship_to_"``)."""

        def get(name: str) -> str:
            return getattr(obj, f"{prefix}{name}", "") or ""

        return cls(
            name=get("name"),
            company=get("company"),
            street1=get("street1"),
            street2=get("street2"),
            city=get("city"),
            state=get("state"),
            postal_code=get("postal_code"),
            country=(get("country") or "US").upper(),
            phone=get("phone"),
            email=get("email"),
        )

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def is_po_box(self) -> bool:
        return bool(_PO_BOX.search(f"{self.street1} {self.street2}"))

    @property
    def is_military(self) -> bool:
        return self.city.strip().upper() in _MILITARY_CITY or self.state.strip().upper() in _MILITARY_STATE

    @property
    def is_domestic_us(self) -> bool:
        return (self.country or "US").upper() in ("US", "PR", "VI", "GU", "AS", "MP")

    def one_line(self) -> str:
        parts = [
            self.street1,
            self.street2,
            self.city,
            f"{self.state} {self.postal_code}".strip(),
            self.country,
        ]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class CustomsItem:
    description: str
    quantity: int
    weight_g: int
    value: Decimal
    hs_code: str
    origin_country: str
    currency: str = "USD"


@dataclass(frozen=True)
class Parcel:
    weight_g: int
    length_mm: int = 0
    width_mm: int = 0
    height_mm: int = 0
    hazmat: bool = False
    lithium: bool = False
    value: Decimal = ZERO
    currency: str = "USD"
    customs_items: tuple[CustomsItem, ...] = ()
    reference: str = ""
    package_type: str = ""  # a carrier's predefined package (e.g. "FlatRateEnvelope"); empty = own box

    @property
    def longest_mm(self) -> int:
        return max(self.length_mm, self.width_mm, self.height_mm)

    @property
    def length_plus_girth_mm(self) -> int:
        dims = sorted([self.length_mm, self.width_mm, self.height_mm], reverse=True)
        return dims[0] + 2 * (dims[1] + dims[2])


@dataclass(frozen=True)
class ShipOptions:
    signature: str = ""  # "", "signature", "adult_signature"
    insurance_amount: Decimal | None = None
    label_format: str = ""  # PDF | ZPL | PNG; empty = the account's format
    reference: str = ""


@dataclass(frozen=True)
class Rate:
    carrier: str  # our code: usps, ups, fedex, dhl_express
    service: str
    amount: Decimal  # what the carrier charges us
    currency: str
    delivery_days: int | None
    guaranteed: bool
    provider_rate_id: str = ""
    provider_shipment_id: str = ""
    account_id: int | None = None  # our CarrierAccount pk
    list_amount: Decimal | None = None
    retail_amount: Decimal | None = None
    delivery_date: str = ""


@dataclass(frozen=True)
class RateResponse:
    rates: list[Rate]
    provider_shipment_id: str = ""
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fee:
    type: str
    amount: Decimal
    charged: bool = True
    refunded: bool = False


@dataclass(frozen=True)
class TrackingDetail:
    status: str  # our tracking status
    message: str
    occurred_at: datetime | None
    location: str = ""
    carrier_code: str = ""
    provider_status: str = ""
    provider_status_detail: str = ""


@dataclass(frozen=True)
class TrackingInfo:
    tracking_number: str
    status: str
    carrier: str = ""
    provider_tracker_id: str = ""
    provider_shipment_id: str = ""
    est_delivery: datetime | None = None
    public_url: str = ""
    signed_by: str = ""
    details: tuple[TrackingDetail, ...] = ()


@dataclass(frozen=True)
class Label:
    provider_shipment_id: str
    tracking_number: str
    label_url: str
    label_format: str
    rate: Rate
    fees: tuple[Fee, ...] = ()
    tracking: TrackingInfo | None = None
    insurance_amount: Decimal | None = None


@dataclass(frozen=True)
class VoidResult:
    provider_shipment_id: str
    refund_status: str  # submitted | refunded | rejected | not_applicable


@dataclass(frozen=True)
class AddressCheck:
    valid: bool
    proposed: Address | None
    messages: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.proposed is not None


@dataclass(frozen=True)
class ManifestResult:
    provider_id: str
    status: str
    form_url: str
    tracking_numbers: tuple[str, ...] = ()


@runtime_checkable
class Carrier(Protocol):
    """What the carrier layer needs from a provider (EasyPost first; a direct UPS API would be another)."""

    def rates(
        self, *, parcel: Parcel, from_address: Address, to_address: Address, options: ShipOptions
    ) -> RateResponse: ...

    def buy(self, *, rate: Rate, options: ShipOptions) -> Label: ...

    def retrieve_label(self, *, provider_shipment_id: str) -> Label | None:
        """The label of a provider shipment if it was already bought (crash recovery), else None."""
        ...

    def void(self, *, provider_shipment_id: str) -> VoidResult: ...

    def track(self, *, tracking_number: str, carrier: str, provider_tracker_id: str = "") -> TrackingInfo: ...

    def verify_address(self, *, address: Address) -> AddressCheck: ...

    def manifest(self, *, provider_shipment_ids: list[str]) -> ManifestResult: ...

    def ping(self) -> str:
        """A cheap authenticated call to test the credentials; returns a short description."""
        ...

    def download(self, *, url: str) -> bytes: ...


@dataclass(frozen=True)
class WebhookNotice:
    """A provider's webhook event in our terms."""

    event_id: str
    description: str
    kind: str  # tracking | refund | other
    tracking: TrackingInfo | None = None
    provider_shipment_id: str = ""
    refund_status: str = ""
