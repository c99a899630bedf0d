"""A small USPS-like zone table: zones 1–8 from the distance between the origin's and the destination's
3-digit ZIP prefixes (each prefix's 2-digit area has an approximate centroid), plus rough rates and transit
times per zone and service. Good enough to rank warehouses; the carriers app's live rates are better when
configured. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

# 2-digit ZIP area -> approximate (lat, lon) of its region.
_AREAS: dict[str, tuple[float, float]] = {}


def _fill(prefixes: str, lat: float, lon: float) -> None:
    for p in prefixes.split():
        _AREAS[p] = (lat, lon)


_fill("00 01 02", 42.3, -71.8)  # MA / PR fallback
_fill("03", 43.7, -71.6)  # NH
_fill("04", 45.3, -69.2)  # ME
_fill("05", 44.0, -72.7)  # VT
_fill("06", 41.6, -72.7)  # CT
_fill("07 08", 40.2, -74.6)  # NJ
_fill("09", 40.7, -74.0)  # military / NY fallback
_fill("10 11", 40.8, -73.9)  # NYC
_fill("12 13 14", 42.9, -75.5)  # upstate NY
_fill("15 16", 40.6, -79.9)  # western PA
_fill("17 18 19", 40.3, -76.2)  # eastern PA / DE
_fill("20 21", 39.0, -76.8)  # DC / MD
_fill("22 23 24", 37.5, -78.7)  # VA
_fill("25 26", 38.6, -80.6)  # WV
_fill("27 28", 35.6, -79.4)  # NC
_fill("29", 33.9, -80.9)  # SC
_fill("30 31", 32.7, -83.4)  # GA
_fill("32 33 34", 28.6, -82.4)  # FL
_fill("35 36", 32.8, -86.8)  # AL
_fill("37 38", 35.9, -86.4)  # TN
_fill("39", 32.7, -89.7)  # MS
_fill("40 41 42", 37.5, -85.3)  # KY
_fill("43 44 45", 40.3, -82.8)  # OH
_fill("46 47", 39.9, -86.3)  # IN
_fill("48 49", 43.3, -84.5)  # MI
_fill("50 51 52", 42.0, -93.5)  # IA
_fill("53 54", 44.6, -89.9)  # WI
_fill("55 56", 45.9, -94.3)  # MN
_fill("57", 44.4, -100.2)  # SD
_fill("58", 47.5, -100.5)  # ND
_fill("59", 47.0, -109.6)  # MT
_fill("60 61 62", 40.0, -89.2)  # IL
_fill("63 64 65", 38.4, -92.5)  # MO
_fill("66 67", 38.5, -98.4)  # KS
_fill("68 69", 41.5, -99.8)  # NE
_fill("70 71", 31.1, -92.0)  # LA
_fill("72", 34.9, -92.4)  # AR
_fill("73 74", 35.6, -97.5)  # OK
_fill("75 76 77 78 79", 31.1, -97.6)  # TX
_fill("80 81", 39.0, -105.5)  # CO
_fill("82", 43.0, -107.5)  # WY
_fill("83", 44.4, -114.6)  # ID
_fill("84", 39.3, -111.7)  # UT
_fill("85 86", 34.2, -111.7)  # AZ
_fill("87 88", 34.4, -106.1)  # NM
_fill("89", 38.5, -117.0)  # NV
_fill("90 91 92 93", 34.4, -118.2)  # southern CA
_fill("94 95", 38.0, -121.6)  # northern CA
_fill("96", 21.3, -157.8)  # HI / Pacific
_fill("97", 44.0, -120.5)  # OR
_fill("98", 47.4, -120.5)  # WA
_fill("99", 61.4, -150.0)  # AK

# miles -> zone (USPS: 1 local up to 50 mi, … 8 over 1800 mi)
_ZONE_LIMITS = [(50, 1), (150, 2), (300, 3), (600, 4), (1000, 5), (1400, 6), (1800, 7)]
INTERNATIONAL_ZONE = 9

# (base, per additional lb) per zone, standard service
_RATES = {
    1: (Decimal("5.40"), Decimal("0.35")),
    2: (Decimal("5.60"), Decimal("0.40")),
    3: (Decimal("6.10"), Decimal("0.55")),
    4: (Decimal("7.10"), Decimal("0.75")),
    5: (Decimal("8.20"), Decimal("0.95")),
    6: (Decimal("9.30"), Decimal("1.15")),
    7: (Decimal("10.40"), Decimal("1.35")),
    8: (Decimal("11.90"), Decimal("1.60")),
    9: (Decimal("28.00"), Decimal("4.50")),
}
_SERVICE_FACTOR = {"standard": Decimal("1.0"), "expedited": Decimal("1.8"), "overnight": Decimal("3.2")}
_TRANSIT = {  # business days by zone for standard; faster services are flat
    1: 1,
    2: 2,
    3: 2,
    4: 3,
    5: 3,
    6: 4,
    7: 4,
    8: 5,
    9: 8,
}


def prefix(postal_code: str) -> str:
    digits = "".join(c for c in (postal_code or "") if c.isdigit())
    return digits[:3]


def distance_miles(origin: str, destination: str) -> float | None:
    a, b = _AREAS.get(prefix(origin)[:2]), _AREAS.get(prefix(destination)[:2])
    if a is None or b is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 3959 * 2 * math.asin(math.sqrt(h))


@lru_cache(maxsize=8192)  # pure; routing asks the same few routes for every order
def zone(*, origin_postal: str, origin_country: str, dest_postal: str, dest_country: str) -> int:
    if (origin_country or "US") != (dest_country or "US"):
        return INTERNATIONAL_ZONE
    if prefix(origin_postal) and prefix(origin_postal) == prefix(dest_postal):
        return 1
    miles = distance_miles(origin_postal, dest_postal)
    if miles is None:
        return 8
    for limit, z in _ZONE_LIMITS:
        if miles <= limit:
            return z
    return 8


@lru_cache(maxsize=8192)  # pure; routing asks the same few routes for every order
def rate(*, zone_: int, weight_g: int, service: str) -> Decimal:
    base, per_lb = _RATES.get(zone_, _RATES[8])
    lbs = max(1, math.ceil((weight_g or 0) / 453.6))
    amount = (base + per_lb * (lbs - 1)) * _SERVICE_FACTOR.get(service, Decimal("1.0"))
    return amount.quantize(Decimal("0.01"))


def transit_days(*, zone_: int, service: str) -> int:
    if service == "overnight":
        return 1 if zone_ != INTERNATIONAL_ZONE else 3
    if service == "expedited":
        return 2 if zone_ != INTERNATIONAL_ZONE else 5
    return _TRANSIT.get(zone_, 5)


@lru_cache(maxsize=8192)  # pure; routing asks the same few routes for every order
def add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def ship_date(*, now: datetime, cutoff: time | None) -> date:
    """Today when the order can still make the warehouse's cut-off, else the next business day."""
    today = now.date()
    if today.weekday() >= 5 or (cutoff is not None and now.time() > cutoff):
        return add_business_days(today, 1)
    return today
