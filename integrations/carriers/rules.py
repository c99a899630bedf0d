"""Pure rate-shopping logic: which services may carry a parcel, and how rates are ranked.

No I/O and no models here, so the rules are easy to read and to test exhaustively.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .base import CARRIER_NAMES, Address, Parcel, Rate

LB = 453.592  # grams
INCH = 25.4  # millimetres


@dataclass(frozen=True)
class ServiceSpec:
    level: str  # standard | expedited | overnight
    max_weight_g: int
    max_length_mm: int
    max_length_girth_mm: int
    hazmat: bool = False  # limited-quantity ground hazmat
    lithium: bool = False  # lithium batteries (contained in equipment)
    domestic: bool = True
    international: bool = False


def _g(lb: float) -> int:
    return int(lb * LB)


def _mm(inches: float) -> int:
    return int(inches * INCH)


# Published limits of the common services (rounded down); a service not listed here falls back to its
# carrier's general limits below.
SERVICES: dict[tuple[str, str], ServiceSpec] = {
    ("usps", "GroundAdvantage"): ServiceSpec(
        "standard", _g(70), _mm(108), _mm(130), hazmat=True, lithium=True
    ),
    ("usps", "Priority"): ServiceSpec("expedited", _g(70), _mm(108), _mm(108), lithium=True),
    ("usps", "Express"): ServiceSpec("overnight", _g(70), _mm(108), _mm(108)),
    ("usps", "PriorityMailInternational"): ServiceSpec(
        "expedited", _g(70), _mm(60), _mm(108), domestic=False, international=True
    ),
    ("usps", "ExpressMailInternational"): ServiceSpec(
        "overnight", _g(70), _mm(60), _mm(108), domestic=False, international=True
    ),
    ("ups", "Ground"): ServiceSpec("standard", _g(150), _mm(108), _mm(165), hazmat=True, lithium=True),
    ("ups", "3DaySelect"): ServiceSpec("expedited", _g(150), _mm(108), _mm(165), lithium=True),
    ("ups", "2ndDayAir"): ServiceSpec("expedited", _g(150), _mm(108), _mm(165), lithium=True),
    ("ups", "NextDayAir"): ServiceSpec("overnight", _g(150), _mm(108), _mm(165), lithium=True),
    ("ups", "Expedited"): ServiceSpec(
        "expedited", _g(150), _mm(108), _mm(165), domestic=False, international=True
    ),
    ("ups", "UPSSaver"): ServiceSpec(
        "overnight", _g(150), _mm(108), _mm(165), domestic=False, international=True
    ),
    ("fedex", "FEDEX_GROUND"): ServiceSpec(
        "standard", _g(150), _mm(108), _mm(165), hazmat=True, lithium=True
    ),
    ("fedex", "FEDEX_2_DAY"): ServiceSpec("expedited", _g(150), _mm(119), _mm(165), lithium=True),
    ("fedex", "STANDARD_OVERNIGHT"): ServiceSpec("overnight", _g(150), _mm(119), _mm(165), lithium=True),
    ("fedex", "INTERNATIONAL_ECONOMY"): ServiceSpec(
        "expedited", _g(150), _mm(108), _mm(165), domestic=False, international=True
    ),
    ("dhl_express", "ExpressWorldwide"): ServiceSpec(
        "overnight", 70_000, 1_200, 3_000, lithium=True, domestic=False, international=True
    ),
}

CARRIER_LIMITS: dict[str, ServiceSpec] = {
    "usps": ServiceSpec("standard", _g(70), _mm(108), _mm(130)),
    "ups": ServiceSpec("standard", _g(150), _mm(108), _mm(165)),
    "fedex": ServiceSpec("standard", _g(150), _mm(119), _mm(165)),
    "dhl_express": ServiceSpec("overnight", 70_000, 1_200, 3_000, international=True),
}

SIGNATURE_CODES = {"signature": "SIGNATURE", "adult_signature": "ADULT_SIGNATURE"}

DEFAULT_RULES = {
    "standard": ("cheapest", None),
    "expedited": ("cheapest_within", 2),
    "overnight": ("cheapest_within", 1),
}


def spec_for(carrier: str, service: str) -> ServiceSpec:
    return SERVICES.get((carrier, service)) or CARRIER_LIMITS.get(carrier) or ServiceSpec("standard", 0, 0, 0)


def carrier_exclusions(*, carrier: str, to_address: Address, parcel: Parcel) -> str:
    """Why a whole carrier cannot take this parcel (empty when it can): PO boxes and APO/FPO are USPS-only;
    international needs customs data."""
    name = CARRIER_NAMES.get(carrier, carrier)
    if carrier != "usps" and to_address.is_po_box:
        return f"{name} does not deliver to PO boxes"
    if carrier != "usps" and to_address.is_military:
        return f"{name} does not deliver to APO/FPO/DPO addresses"
    if not to_address.is_domestic_us and not parcel.customs_items:
        return "international parcel without customs information (HS code, origin, value)"
    return ""


def rate_exclusion(*, rate: Rate, to_address: Address, parcel: Parcel) -> str:
    """Why this service cannot carry this parcel (empty when it can)."""
    reason = carrier_exclusions(carrier=rate.carrier, to_address=to_address, parcel=parcel)
    if reason:
        return reason
    spec = spec_for(rate.carrier, rate.service)
    label = f"{CARRIER_NAMES.get(rate.carrier, rate.carrier)} {rate.service}"
    if parcel.hazmat and not spec.hazmat:
        return f"{label} does not accept hazmat"
    if parcel.lithium and not spec.lithium:
        return f"{label} does not accept lithium batteries"
    if spec.max_weight_g and parcel.weight_g > spec.max_weight_g:
        return f"{label} weight limit {spec.max_weight_g} g exceeded"
    if spec.max_length_mm and parcel.longest_mm > spec.max_length_mm:
        return f"{label} length limit {spec.max_length_mm} mm exceeded"
    if spec.max_length_girth_mm and parcel.length_plus_girth_mm > spec.max_length_girth_mm:
        return f"{label} length + girth limit {spec.max_length_girth_mm} mm exceeded"
    international = not to_address.is_domestic_us
    if (rate.carrier, rate.service) in SERVICES:
        if international and not spec.international:
            return f"{label} is domestic only"
        if not international and not spec.domestic:
            return f"{label} is international only"
    return ""


def insurance_cost(amount: Decimal | None) -> Decimal:
    """EasyPost's shipping insurance: 1 % of the declared value, at least $1.00."""
    if not amount:
        return Decimal("0.00")
    return max(Decimal("1.00"), (amount * Decimal("0.01")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class RankedRate:
    rate: Rate
    price: Decimal  # carrier cost + markup
    total: Decimal  # price + insurance
    account_name: str = ""
    eligible: bool = True
    excluded_reason: str = ""

    def as_dict(self) -> dict:
        r = self.rate
        return {
            "account_id": r.account_id,
            "account": self.account_name,
            "carrier": r.carrier,
            "service": r.service,
            "amount": str(r.amount),
            "price": str(self.price),
            "total": str(self.total),
            "currency": r.currency,
            "delivery_days": r.delivery_days,
            "guaranteed": r.guaranteed,
            "provider_rate_id": r.provider_rate_id,
            "provider_shipment_id": r.provider_shipment_id,
            "eligible": self.eligible,
            "excluded_reason": self.excluded_reason,
        }


def _days(r: RankedRate) -> int:
    return r.rate.delivery_days if r.rate.delivery_days is not None else 99


def rank(
    candidates: list[RankedRate], *, rule: str, max_days: int | None = None, preferred_carrier: str = ""
) -> tuple[list[RankedRate], str]:
    """Order eligible rates best first under ``rule``; return them with the reason for the first.

    Fallbacks never stall: when no rate meets "within N days", the fastest is chosen and the reason says
    so; when the preferred carrier has no rate, the cheapest of the others."""
    pool = [c for c in candidates if c.eligible]
    if not pool:
        return [], ""
    by_price = sorted(
        pool, key=lambda c: (c.total, _days(c), not c.rate.guaranteed, c.rate.carrier, c.rate.service)
    )
    by_speed = sorted(
        pool, key=lambda c: (_days(c), not c.rate.guaranteed, c.total, c.rate.carrier, c.rate.service)
    )

    def describe(c: RankedRate) -> str:
        days = f"{c.rate.delivery_days} day(s)" if c.rate.delivery_days is not None else "unknown transit"
        return f"{CARRIER_NAMES.get(c.rate.carrier, c.rate.carrier)} {c.rate.service} {c.total} {c.rate.currency}, {days}"

    if rule == "fastest":
        best = by_speed
        reason = f"fastest: {describe(best[0])}"
    elif rule == "cheapest_within":
        limit = max_days or 1
        within = [c for c in by_price if c.rate.delivery_days is not None and c.rate.delivery_days <= limit]
        if within:
            rest = [c for c in by_speed if c not in within]
            best = within + rest
            reason = f"cheapest within {limit} day(s): {describe(best[0])}"
        else:
            best = by_speed
            reason = f"no rate within {limit} day(s); fastest instead: {describe(best[0])}"
    elif rule == "preferred" and preferred_carrier:
        mine = [c for c in by_price if c.rate.carrier == preferred_carrier]
        others = [c for c in by_price if c.rate.carrier != preferred_carrier]
        best = mine + others
        name = CARRIER_NAMES.get(preferred_carrier, preferred_carrier)
        if mine:
            reason = f"preferred carrier {name}: {describe(best[0])}"
        else:
            reason = f"preferred carrier {name} had no rate; cheapest instead: {describe(best[0])}"
    else:
        best = by_price
        reason = f"cheapest: {describe(best[0])}"
    return best, reason
