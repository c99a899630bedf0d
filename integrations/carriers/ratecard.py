"""Offline shipping estimates for the public pricing calculator and cost estimates before a parcel exists.

No network: a published-style rate card (base price, per additional pound, per zone) with the same
restrictions as live rate shopping. Live rates for a real parcel come from ``services.rates_shop``.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from .base import Address, Parcel, Rate
from .rules import RankedRate, rank, rate_exclusion

# carrier -> [(service, level, base, per_lb, per_zone, days, guaranteed)]
RATE_CARD = {
    "usps": [
        ("GroundAdvantage", "standard", "5.40", "0.55", "0.35", 3, False),
        ("Priority", "expedited", "7.90", "0.95", "0.60", 2, False),
        ("Express", "overnight", "30.45", "2.10", "1.20", 1, False),
    ],
    "ups": [
        ("Ground", "standard", "9.21", "0.60", "0.45", 4, False),
        ("2ndDayAir", "expedited", "19.85", "1.40", "0.95", 2, True),
        ("NextDayAir", "overnight", "42.30", "2.90", "1.80", 1, True),
    ],
    "fedex": [
        ("FEDEX_GROUND", "standard", "8.95", "0.62", "0.45", 4, False),
        ("FEDEX_2_DAY", "expedited", "18.40", "1.35", "0.90", 2, True),
        ("STANDARD_OVERNIGHT", "overnight", "39.75", "2.80", "1.75", 1, True),
    ],
}
LB_G = 453.592
DIM_DIVISOR = 139  # cubic inches per pound (dimensional weight)


def zone(from_postal: str, to_postal: str) -> int:
    """USPS-style zone 1-8 from the distance between the first three digits of two ZIP codes."""
    try:
        a, b = int((from_postal or "0")[:3]), int((to_postal or "0")[:3])
    except ValueError:
        return 5
    return max(1, min(8, 1 + abs(a - b) // 100))


def billable_lb(parcel: Parcel) -> int:
    actual = parcel.weight_g / LB_G
    cubic_in = (parcel.length_mm / 25.4) * (parcel.width_mm / 25.4) * (parcel.height_mm / 25.4)
    return max(1, math.ceil(max(actual, cubic_in / DIM_DIVISOR)))


def rate_estimate(
    *,
    weight_g: int,
    length_mm: int = 0,
    width_mm: int = 0,
    height_mm: int = 0,
    from_postal_code: str,
    to_postal_code: str,
    to_country: str = "US",
    service_level: str = "standard",
) -> list[dict]:
    """Estimated price per carrier and service for a parcel, cheapest first, with the zone used.
    Domestic US only (international estimates need customs data; the calculator should say so)."""
    parcel = Parcel(weight_g=weight_g, length_mm=length_mm, width_mm=width_mm, height_mm=height_mm)
    to = Address(street1="1 Estimate St", postal_code=to_postal_code, country=to_country or "US")
    if not to.is_domestic_us:
        return []
    z = zone(from_postal_code, to_postal_code)
    lb = billable_lb(parcel)
    candidates = []
    for carrier, services in RATE_CARD.items():
        for service, level, base, per_lb, per_zone, days, guaranteed in services:
            if level != service_level:
                continue
            amount = (Decimal(base) + Decimal(per_lb) * (lb - 1) + Decimal(per_zone) * (z - 1)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            rate = Rate(
                carrier=carrier,
                service=service,
                amount=amount,
                currency="USD",
                delivery_days=days,
                guaranteed=guaranteed,
            )
            why = rate_exclusion(rate=rate, to_address=to, parcel=parcel)
            candidates.append(
                RankedRate(rate=rate, price=amount, total=amount, eligible=not why, excluded_reason=why)
            )
    ranked, _ = rank(candidates, rule="cheapest")
    return [
        {
            "carrier": r.rate.carrier,
            "service": r.rate.service,
            "price": r.price,
            "currency": "USD",
            "delivery_days": r.rate.delivery_days,
            "guaranteed": r.rate.guaranteed,
            "zone": z,
            "billable_lb": lb,
        }
        for r in ranked
    ]
