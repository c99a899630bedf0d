"""Our published shipping rate table: zone × billable weight per carrier × service (pure, Decimal).

These are Fulfil's own published numbers for the calculator and for estimates. Actual costs use the real
label price (``integrations.carriers``) when a label is bought. Zones come from the distance between the
origin and destination 3-digit ZIP prefixes (region centroids by first digit, USPS-like distance bands);
billable weight is the greater of actual and dimensional weight (length × width × height in inches divided
by 139 for UPS/FedEx, 166 for USPS when the parcel is over one cubic foot), rounded up to the pound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

D = Decimal
GRAMS_PER_LB = D("453.59237")
MM_PER_IN = D("25.4")

# Approximate centroid (lat, lon) of each ZIP region (first digit).
REGION_CENTROIDS = {
    "0": (42.5, -71.8),  # New England, NJ, PR
    "1": (41.6, -75.8),  # NY, PA, DE
    "2": (37.3, -78.6),  # DC, MD, VA, WV, NC, SC
    "3": (32.6, -84.6),  # FL, GA, AL, TN, MS
    "4": (40.3, -84.8),  # OH, IN, MI, KY
    "5": (44.8, -95.5),  # MN, WI, IA, SD, ND, MT
    "6": (39.6, -92.4),  # IL, MO, KS, NE
    "7": (32.4, -96.4),  # TX, OK, AR, LA
    "8": (39.4, -109.5),  # CO, WY, ID, UT, AZ, NM, NV
    "9": (38.5, -121.0),  # CA, OR, WA, AK, HI
}
ZONE_BANDS_MILES = [(600, 4), (1000, 5), (1400, 6), (1800, 7)]


def zip3(postal_code: str) -> str:
    digits = "".join(ch for ch in str(postal_code) if ch.isdigit())
    if len(digits) < 3:
        raise ValueError(f"Not a US ZIP code: {postal_code!r}")
    return digits[:3]


def _miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 3958.8 * 2 * math.asin(math.sqrt(h))


def zone_for(origin_zip: str, dest_zip: str) -> int:
    """Zone 1–8 between two US ZIP codes."""
    o, d = zip3(origin_zip), zip3(dest_zip)
    if o == d:
        return 1
    if o[0] == d[0]:
        return 2 if abs(int(o) - int(d)) <= 5 else 3
    miles = _miles(REGION_CENTROIDS[o[0]], REGION_CENTROIDS[d[0]])
    for limit, zone in ZONE_BANDS_MILES:
        if miles <= limit:
            return zone
    return 8


@dataclass(frozen=True)
class Service:
    code: str
    carrier: str
    name: str
    speed: str  # standard | expedited | overnight
    base: Decimal  # zone 1, 1 lb
    per_zone: Decimal
    per_lb: Decimal
    per_lb_zone: Decimal
    dim_divisor: int
    dim_threshold_cuin: int  # dimensional weight applies above this volume (0 = always)
    days_by_zone: tuple[int, ...]  # index zone-1

    @property
    def label(self) -> str:
        return f"{self.carrier} {self.name}"

    def days(self, zone: int) -> int:
        return self.days_by_zone[max(1, min(8, zone)) - 1]

    def price(self, *, zone: int, billable_lb: int) -> Decimal:
        z, lb = D(max(1, min(8, zone)) - 1), D(max(1, billable_lb) - 1)
        return (self.base + self.per_zone * z + self.per_lb * lb + self.per_lb_zone * lb * z).quantize(
            D("0.01")
        )


GROUND_DAYS = (1, 2, 2, 3, 4, 4, 5, 5)
SERVICES: tuple[Service, ...] = (
    Service("usps_ground_advantage", "USPS", "Ground Advantage", "standard", D("4.75"), D("0.35"), D("0.85"),
            D("0.12"), 166, 1728, (2, 2, 3, 3, 4, 4, 5, 5)),
    Service("usps_priority", "USPS", "Priority Mail", "expedited", D("7.90"), D("0.55"), D("1.10"), D("0.20"),
            166, 1728, (1, 1, 2, 2, 3, 3, 3, 3)),
    Service("ups_ground", "UPS", "Ground", "standard", D("9.20"), D("0.45"), D("0.95"), D("0.14"), 139, 0,
            GROUND_DAYS),
    Service("ups_2nd_day_air", "UPS", "2nd Day Air", "expedited", D("18.50"), D("1.40"), D("2.10"), D("0.30"),
            139, 0, (2,) * 8),
    Service("ups_next_day_air", "UPS", "Next Day Air", "overnight", D("32.00"), D("2.60"), D("3.40"), D("0.45"),
            139, 0, (1,) * 8),
    Service("fedex_home_delivery", "FedEx", "Home Delivery", "standard", D("9.05"), D("0.45"), D("0.95"),
            D("0.14"), 139, 0, GROUND_DAYS),
    Service("fedex_2day", "FedEx", "2Day", "expedited", D("18.20"), D("1.35"), D("2.05"), D("0.30"), 139, 0,
            (2,) * 8),
    Service("fedex_standard_overnight", "FedEx", "Standard Overnight", "overnight", D("31.50"), D("2.55"),
            D("3.35"), D("0.45"), 139, 0, (1,) * 8),
)  # fmt: skip
SERVICES_BY_CODE = {s.code: s for s in SERVICES}
SPEEDS = ("standard", "expedited", "overnight")


def billable_lb(*, weight_g: Decimal | int, length_mm: Decimal | int, width_mm: Decimal | int,
                height_mm: Decimal | int, service: Service) -> int:  # fmt: skip
    actual = D(str(weight_g)) / GRAMS_PER_LB
    cuin = (D(str(length_mm)) / MM_PER_IN) * (D(str(width_mm)) / MM_PER_IN) * (D(str(height_mm)) / MM_PER_IN)
    dim = D(0)
    if cuin > service.dim_threshold_cuin:
        dim = cuin / service.dim_divisor
    return max(1, int(max(actual, dim).to_integral_value(rounding=ROUND_CEILING)))


@dataclass(frozen=True)
class ShippingQuote:
    service: Service
    zone: int
    billable_lb: int
    price: Decimal
    days: int


def quote(*, service: Service, zone: int, weight_g, length_mm, width_mm, height_mm) -> ShippingQuote:
    lb = billable_lb(weight_g=weight_g, length_mm=length_mm, width_mm=width_mm, height_mm=height_mm,
                     service=service)  # fmt: skip
    return ShippingQuote(service, zone, lb, service.price(zone=zone, billable_lb=lb), service.days(zone))


def rate_table(service: Service, *, max_lb: int = 10) -> list[tuple[int, list[Decimal]]]:
    """The published table: one row per pound, one column per zone."""
    return [(lb, [service.price(zone=z, billable_lb=lb) for z in range(1, 9)]) for lb in range(1, max_lb + 1)]


# Boxes we stock: inner dimensions in mm, tare weight in g. The rate card prices each as ``packaging.<code>``.
@dataclass(frozen=True)
class Box:
    code: str
    name: str
    length_mm: int
    width_mm: int
    height_mm: int
    tare_g: int

    @property
    def volume(self) -> int:
        return self.length_mm * self.width_mm * self.height_mm


BOXES: tuple[Box, ...] = (
    Box("poly_mailer", "Poly mailer 10×13 in", 330, 254, 40, 20),
    Box("small_box", "Small box 8×6×4 in", 203, 152, 102, 140),
    Box("medium_box", "Medium box 12×10×6 in", 305, 254, 152, 280),
    Box("large_box", "Large box 18×14×10 in", 457, 356, 254, 520),
    Box("xl_box", "XL box 24×18×18 in", 610, 457, 457, 900),
)
BOXES_BY_CODE = {b.code: b for b in BOXES}
FILL = D("0.8")  # usable fraction of a box's volume


def box_fits(box: Box, *, units: int, length_mm, width_mm, height_mm, fragile: bool = False) -> bool:
    item = sorted([int(length_mm), int(width_mm), int(height_mm)], reverse=True)
    inner = sorted([box.length_mm, box.width_mm, box.height_mm], reverse=True)
    if any(i > b for i, b in zip(item, inner, strict=True)):
        return False
    if fragile and box.code == "poly_mailer":
        return False
    return D(item[0] * item[1] * item[2] * max(1, units)) <= D(box.volume) * FILL


def choose_box(*, units: int, length_mm, width_mm, height_mm, fragile: bool = False) -> Box:
    """The smallest stocked box that fits the units (the XL box if nothing else does)."""
    for box in BOXES:
        if box_fits(box, units=units, length_mm=length_mm, width_mm=width_mm, height_mm=height_mm,
                    fragile=fragile):  # fmt: skip
            return box
    return BOXES[-1]
