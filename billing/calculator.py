"""The public calculator: turns a visitor's inputs into activities and prices them with the one pricing
function (``billing.pricing.price``). Pure; the caller passes the rate card in force."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from billing import shipping
from billing.pricing import (
    FULFILLMENT,
    PACKAGING,
    SHIPPING,
    SHIPPING_KIND,
    STORAGE,
    SURCHARGES,
    ZERO,
    Activity,
    Priced,
    RateCard,
    Tier,
    price,
)

D = Decimal
DEFAULT_ORIGIN = "43004"  # our Columbus, OH building: central for most of the US
CUBIC_FEET_PER_PALLET = D("64")


@dataclass(frozen=True)
class Destination:
    zone: int
    share: Decimal  # 0..1


@dataclass(frozen=True)
class QuoteInput:
    monthly_orders: int
    units_per_order: int
    weight_g: Decimal  # per unit
    length_mm: Decimal
    width_mm: Decimal
    height_mm: Decimal
    destinations: Sequence[Destination] = ()
    pallets: Decimal = ZERO
    cubic_feet: Decimal = ZERO
    speed: str = "standard"
    fragile: bool = False
    hazmat: bool = False
    gift_wrap: bool = False
    inserts: int = 0
    origin_zip: str = DEFAULT_ORIGIN


def destinations_from(*, zones: Sequence[int] = (), postal_codes: Sequence[str] = (),
                      origin_zip: str = DEFAULT_ORIGIN) -> list[Destination]:  # fmt: skip
    """An equal-share destination mix from zones and/or postal codes (zone 5 when none given)."""
    all_zones = [max(1, min(8, int(z))) for z in zones]
    all_zones += [shipping.zone_for(origin_zip, code) for code in postal_codes]
    if not all_zones:
        all_zones = [5]
    share = D(1) / len(all_zones)
    return [Destination(z, share) for z in all_zones]


@dataclass(frozen=True)
class Method:
    service: shipping.Service
    carrier_cost: Decimal  # average carrier price per order across the destination mix
    billed: Decimal  # per order, as billed (carrier rate + markup + label fee), from the pricing function
    days_min: int
    days_max: int
    billable_lb: int


@dataclass(frozen=True)
class Quote:
    inputs: QuoteInput
    tier: Tier
    box: shipping.Box
    method: Method
    methods: list[Method]
    per_order: Priced  # one order
    monthly: Priced  # the month, storage included
    storage_per_order: Decimal
    chart: list[tuple[int, str, Decimal]] = field(
        default_factory=list
    )  # (orders/month, tier, per-order cost)

    @property
    def per_order_total(self) -> Decimal:
        return self.per_order.total + self.storage_per_order

    def breakdown(self) -> dict[str, Decimal]:
        cats = self.monthly.by_category()
        return {
            "fulfillment": cats.get(FULFILLMENT, ZERO) + cats.get(SURCHARGES, ZERO),
            "packaging": cats.get(PACKAGING, ZERO),
            "shipping": cats.get(SHIPPING, ZERO),
            "storage": cats.get(STORAGE, ZERO),
        }


def order_activities(*, units: int, box_code: str, fragile=False, hazmat=False, gift_wrap=False, inserts=0,
                     kits: int = 0, carrier_cost: Decimal | None, shipping_note: str = "", byo: bool = False,
                     orders: int = 1) -> list[Activity]:  # fmt: skip
    """The activities of fulfilling ``orders`` orders of ``units`` units each — shared by the calculator, the
    per-order estimate and the actual cost, so they can never disagree on what an order consists of."""
    n = D(orders)
    acts = [Activity("fulfillment.order", n)]
    if units > 1:
        acts.append(Activity("fulfillment.additional_unit", n * (units - 1)))
    acts.append(Activity("pick.unit", n * units))
    if kits:
        acts.append(Activity("kitting.kit", n * kits))
    acts.append(Activity(f"packaging.{box_code}", n))
    if hazmat:
        acts.append(Activity("handling.hazmat", n))
    if fragile:
        acts.append(Activity("handling.fragile", n))
    if gift_wrap:
        acts.append(Activity("handling.gift_wrap", n))
    if inserts:
        acts.append(Activity("handling.insert", n * inserts))
    if carrier_cost is not None:
        acts.append(Activity("label.fee", n))
        acts.append(Activity(SHIPPING_KIND, n, cost=carrier_cost, note=shipping_note, byo=byo))
    return acts


def _parcel(inp: QuoteInput, box: shipping.Box) -> tuple[Decimal, int, int, int]:
    weight = inp.weight_g * inp.units_per_order + box.tare_g
    return weight, box.length_mm, box.width_mm, box.height_mm


def _methods(inp: QuoteInput, box: shipping.Box) -> list[tuple[shipping.Service, Decimal, int, int, int]]:
    weight, length, width, height = _parcel(inp, box)
    dests = list(inp.destinations) or [Destination(5, D(1))]
    out = []
    for service in shipping.SERVICES:
        cost, days, lbs = ZERO, [], []
        for dest in dests:
            q = shipping.quote(service=service, zone=dest.zone, weight_g=weight, length_mm=length,
                               width_mm=width, height_mm=height)  # fmt: skip
            cost += q.price * dest.share
            days.append(q.days)
            lbs.append(q.billable_lb)
        out.append((service, cost.quantize(D("0.0001")), min(days), max(days), max(lbs)))
    return out


def quote(inp: QuoteInput, *, card: RateCard, chart_volumes: Sequence[int] | None = None) -> Quote:
    box = shipping.choose_box(units=inp.units_per_order, length_mm=inp.length_mm, width_mm=inp.width_mm,
                              height_mm=inp.height_mm, fragile=inp.fragile)  # fmt: skip
    n = max(0, int(inp.monthly_orders))
    common = dict(units=max(1, inp.units_per_order), box_code=box.code, fragile=inp.fragile, hazmat=inp.hazmat,
                  gift_wrap=inp.gift_wrap, inserts=inp.inserts)  # fmt: skip

    methods: list[Method] = []
    for service, cost, dmin, dmax, lb in _methods(inp, box):
        ship_only = price(
            [Activity("label.fee"), Activity(SHIPPING_KIND, cost=cost)], card=card, monthly_orders=n
        )
        methods.append(Method(service, cost, ship_only.total, dmin, dmax, lb))
    methods.sort(key=lambda m: (m.billed, m.days_max))
    wanted = [m for m in methods if m.service.speed == inp.speed] or methods
    method = wanted[0]

    def per_order_at(volume: int) -> Priced:
        return price(order_activities(**common, carrier_cost=method.carrier_cost, shipping_note=method.service.label),
                     card=card, monthly_orders=volume)  # fmt: skip

    storage_acts = []
    if inp.pallets:
        storage_acts.append(Activity("storage.pallet", D(inp.pallets)))
    if inp.cubic_feet:
        storage_acts.append(Activity("storage.cubic_foot", D(inp.cubic_feet)))
    monthly_acts = order_activities(**common, carrier_cost=method.carrier_cost, shipping_note=method.service.label,
                                    orders=n) if n else []  # fmt: skip
    monthly = price([*monthly_acts, *storage_acts], card=card, monthly_orders=n)
    storage_total = price(storage_acts, card=card, monthly_orders=n).total
    storage_per_order = (storage_total / n).quantize(D("0.01")) if n else ZERO

    volumes = sorted({*(chart_volumes or [t.min_orders or 100 for t in card.tiers] or [100]), max(n, 1)})
    chart = []
    for volume in volumes:
        p = per_order_at(volume)
        s = (price(storage_acts, card=card, monthly_orders=volume).total / volume).quantize(D("0.01"))
        chart.append((volume, p.tier.name, p.total + s))
    return Quote(
        inp, card.tier_for(n), box, method, methods, per_order_at(n), monthly, storage_per_order, chart
    )


def chart_svg(points: Sequence[tuple[int, str, Decimal]], *, width: int = 520, height: int = 220,
              highlight: int | None = None) -> str:  # fmt: skip
    """An inline SVG line chart of per-order cost against monthly volume (rendered server-side)."""
    if not points:
        return ""
    pad_l, pad_r, pad_t, pad_b = 56, 16, 16, 40
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    costs = [float(c) for _, _, c in points]
    lo, hi = min(costs) * 0.9, max(costs) * 1.05 or 1.0
    span = (hi - lo) or 1.0
    n = len(points)

    def xy(i: int, cost: float) -> tuple[float, float]:
        x = pad_l + (w * i / (n - 1) if n > 1 else w / 2)
        return round(x, 1), round(pad_t + h - (cost - lo) / span * h, 1)

    coords = [xy(i, c) for i, c in enumerate(costs)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y) in enumerate(coords))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="tier-chart" '
        f'aria-label="Cost per order falls as monthly volume grows">',
        f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" stroke="#dde2e8"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + h}" stroke="#dde2e8"/>',
        f'<text x="4" y="{pad_t + 10}" font-size="11" fill="#5b6675">${hi:.2f}</text>',
        f'<text x="4" y="{pad_t + h}" font-size="11" fill="#5b6675">${lo:.2f}</text>',
        f'<path d="{path}" fill="none" stroke="#1f6feb" stroke-width="2.5"/>',
    ]
    for (volume, tier, cost), (x, y) in zip(points, coords, strict=True):
        big = volume == highlight
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="{6 if big else 4}" fill="{"#1a7f37" if big else "#1f6feb"}">'
            f"<title>{volume:,} orders/month ({tier}): ${cost:.2f} per order</title></circle>"
        )
        parts.append(f'<text x="{x}" y="{y - 9}" font-size="11" text-anchor="middle">${cost:.2f}</text>')
        parts.append(
            f'<text x="{x}" y="{pad_t + h + 16}" font-size="11" text-anchor="middle" fill="#5b6675">{volume:,}</text>'
        )
        parts.append(
            f'<text x="{x}" y="{pad_t + h + 30}" font-size="10" text-anchor="middle" fill="#5b6675">{tier}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
