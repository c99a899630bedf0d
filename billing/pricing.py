"""The one pricing function. Everything that costs money — the public calculator, an order's estimate, its
actual cost, every charge line on an invoice — is ``price(activities, card=..., monthly_orders=...)``.

Pure: no database, no clock. Money is ``Decimal`` in the card's currency. Rounding happens in exactly one
place, ``_round`` (half-up to the cent), once per priced line; tax is computed per line from that rounded
amount and rounded the same way. Totals are plain sums of rounded lines, so lines always add up to totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

D = Decimal
ZERO = D("0")
ONE = D("1")
CENT = D("0.01")

FULFILLMENT = "fulfillment"
PACKAGING = "packaging"
SHIPPING = "shipping"
STORAGE = "storage"
RECEIVING = "receiving"
RETURNS = "returns"
SURCHARGES = "surcharges"
ADJUSTMENTS = "adjustments"
CATEGORIES = (FULFILLMENT, PACKAGING, SHIPPING, SURCHARGES, STORAGE, RECEIVING, RETURNS, ADJUSTMENTS)

# Every rate a card can hold: key -> (category, label, unit). Storage rates are per month.
RATE_KEYS: dict[str, tuple[str, str, str]] = {
    "fulfillment.order": (FULFILLMENT, "Fulfillment, first unit of an order", "order"),
    "fulfillment.additional_unit": (FULFILLMENT, "Fulfillment, each additional unit", "unit"),
    "pick.unit": (FULFILLMENT, "Pick fee", "unit"),
    "kitting.kit": (FULFILLMENT, "Kitting", "kit"),
    "packaging.poly_mailer": (PACKAGING, "Poly mailer", "each"),
    "packaging.small_box": (PACKAGING, "Small box", "each"),
    "packaging.medium_box": (PACKAGING, "Medium box", "each"),
    "packaging.large_box": (PACKAGING, "Large box", "each"),
    "packaging.xl_box": (PACKAGING, "XL box", "each"),
    "packaging.custom": (PACKAGING, "Your own packaging", "each"),
    "handling.hazmat": (SURCHARGES, "Hazmat handling", "order"),
    "handling.fragile": (SURCHARGES, "Fragile handling", "order"),
    "handling.insert": (SURCHARGES, "Insert (card, sample)", "insert"),
    "handling.gift_wrap": (SURCHARGES, "Gift wrap", "order"),
    "receiving.unit": (RECEIVING, "Receiving, per unit", "unit"),
    "receiving.carton": (RECEIVING, "Receiving, per carton", "carton"),
    "receiving.hour_unsorted": (RECEIVING, "Receiving unsorted freight", "hour"),
    "storage.bin": (STORAGE, "Storage, bin", "bin-month"),
    "storage.shelf": (STORAGE, "Storage, shelf", "shelf-month"),
    "storage.pallet": (STORAGE, "Storage, pallet", "pallet-month"),
    "storage.cubic_foot": (STORAGE, "Storage, cubic foot", "ft³-month"),
    "storage.long_term_cubic_foot": (STORAGE, "Long-term storage surcharge (over 180 days)", "ft³-month"),
    "returns.order": (RETURNS, "Return processing", "return"),
    "returns.unit": (RETURNS, "Return processing, per unit", "unit"),
    "label.fee": (SHIPPING, "Label fee", "label"),
}
SHIPPING_KIND = "shipping"  # carrier cost given on the activity; markup from the card
ADJUSTMENT_KIND = "adjustment"  # amount given on the activity (credits are negative)
# A missed volume commitment (take-or-pay): each committed order not shipped is billed at the per-order
# fulfillment rate of the tier the month was priced at (``monthly_orders`` = that month's tier basis).
SHORTFALL_KIND = "commitment.shortfall"


def _round(value: Decimal) -> Decimal:
    """The one rounding place: half-up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Any) -> Decimal:
    return D(str(value))


@dataclass(frozen=True)
class Tier:
    name: str
    min_orders: int
    rates: Mapping[str, Decimal] = field(default_factory=dict)  # overrides of the base rates

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "min_orders": self.min_orders,
            "rates": {k: str(v) for k, v in self.rates.items()},
        }


@dataclass(frozen=True)
class RateCard:
    """Resolved rates: a standard version with a contract version's overrides applied."""

    rates: Mapping[str, Decimal]
    tiers: tuple[Tier, ...]
    currency: str = "USD"
    shipping_markup_pct: Decimal = ZERO
    label: str = ""
    versions: tuple[int, ...] = ()  # RateCardVersion ids it was built from

    def tier_for(self, monthly_orders: int) -> Tier:
        chosen = Tier("Base", 0)
        for tier in sorted(self.tiers, key=lambda t: t.min_orders):
            if monthly_orders >= tier.min_orders:
                chosen = tier
        return chosen

    def rate(self, key: str, tier: Tier) -> Decimal:
        if key in tier.rates:
            return tier.rates[key]
        if key not in self.rates:
            raise KeyError(f"The rate card has no rate {key!r}")
        return self.rates[key]


def card_from_data(data: Mapping[str, Any], *, overrides: Mapping[str, Any] | None = None, label: str = "",
                   versions: tuple[int, ...] = ()) -> RateCard:  # fmt: skip
    """Build a card from stored JSON (``{"currency", "shipping_markup_pct", "rates", "tiers"}``); a contract's
    ``overrides`` replace single rates, the markup, and — when given — the whole tier list."""
    overrides = overrides or {}
    rates = {k: money(v) for k, v in data.get("rates", {}).items()}
    rates.update({k: money(v) for k, v in overrides.get("rates", {}).items()})
    unknown = set(rates) - set(RATE_KEYS)
    if unknown:
        raise ValueError(f"Unknown rate keys: {sorted(unknown)}")
    tiers_data = overrides["tiers"] if overrides.get("tiers") is not None else data.get("tiers", [])
    tiers = tuple(
        Tier(
            t["name"],
            int(t["min_orders"]),
            MappingProxyType({k: money(v) for k, v in t.get("rates", {}).items()}),
        )
        for t in tiers_data
    )
    markup = overrides.get("shipping_markup_pct", data.get("shipping_markup_pct", "0"))
    return RateCard(
        rates=MappingProxyType(rates),
        tiers=tuple(sorted(tiers, key=lambda t: t.min_orders)),
        currency=overrides.get("currency") or data.get("currency", "USD"),
        shipping_markup_pct=money(markup),
        label=label,
        versions=versions,
    )


@dataclass(frozen=True)
class Activity:
    """Something that costs money. ``kind`` is a rate key, ``"shipping"`` (``cost`` = the carrier's price per
    parcel) or ``"adjustment"`` (``cost`` = the amount; negative for a credit). ``fraction`` scales a monthly
    rate (a storage-day is 1/30 of a month)."""

    kind: str
    quantity: Decimal = ONE
    cost: Decimal | None = None
    fraction: Decimal = ONE
    note: str = ""
    byo: bool = False  # shipping on the merchant's own carrier account: passed through, not billed by us
    category: str = ""  # adjustments only

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "quantity": str(self.quantity),
            "cost": None if self.cost is None else str(self.cost),
            "fraction": str(self.fraction),
            "note": self.note,
            "byo": self.byo,
            "category": self.category,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Activity:
        return cls(
            kind=data["kind"],
            quantity=money(data.get("quantity", 1)),
            cost=None if data.get("cost") in (None, "") else money(data["cost"]),
            fraction=money(data.get("fraction", 1)),
            note=data.get("note", ""),
            byo=bool(data.get("byo", False)),
            category=data.get("category", ""),
        )


@dataclass(frozen=True)
class Line:
    kind: str
    category: str
    description: str
    quantity: Decimal
    unit_price: Decimal  # unrounded (a storage-day is a fraction of a monthly rate)
    amount: Decimal  # rounded to the cent
    tax_rate: Decimal = ZERO
    tax: Decimal = ZERO
    activity: int = 0  # index of the activity that produced it

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


@dataclass(frozen=True)
class Priced:
    lines: tuple[Line, ...]
    currency: str
    tier: Tier

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    def by_category(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for line in self.lines:
            out[line.category] = out.get(line.category, ZERO) + line.amount
        return out


def _line(kind, category, description, quantity, unit_price, tax_rates, index) -> Line:
    amount = _round(quantity * unit_price)
    rate = tax_rates.get(category, tax_rates.get("*", ZERO))
    return Line(kind, category, description, quantity, unit_price, amount, rate, _round(amount * rate), index)


def price(activities: Iterable[Activity], *, card: RateCard, monthly_orders: int = 0,
          tax_rates: Mapping[str, Decimal] | None = None) -> Priced:  # fmt: skip
    """Price activities with ``card`` at the volume tier for ``monthly_orders``. ``tax_rates`` maps a
    category (or ``"*"``) to a rate such as ``Decimal("0.0725")``."""
    tier = card.tier_for(monthly_orders)
    taxes = tax_rates or {}
    lines: list[Line] = []
    for i, act in enumerate(activities):
        qty = money(act.quantity)
        if act.kind == SHIPPING_KIND:
            cost = money(act.cost if act.cost is not None else 0)
            note = f" — {act.note}" if act.note else ""
            if act.byo:
                lines.append(_line(act.kind, SHIPPING, f"Shipping on your own carrier account{note} (billed by "
                                   "your carrier, pass-through)", qty, ZERO, taxes, i))  # fmt: skip
                continue
            lines.append(_line(act.kind, SHIPPING, f"Shipping at carrier rate{note}", qty, cost, taxes, i))
            if card.shipping_markup_pct:
                unit = cost * card.shipping_markup_pct / 100
                lines.append(_line("shipping.markup", SHIPPING,
                                   f"Shipping markup {card.shipping_markup_pct.normalize()}% of carrier rate",
                                   qty, unit, taxes, i))  # fmt: skip
            continue
        if act.kind == ADJUSTMENT_KIND:
            category = act.category or ADJUSTMENTS
            lines.append(
                _line(act.kind, category, act.note or "Adjustment", qty, money(act.cost or 0), taxes, i)
            )
            continue
        if act.kind == SHORTFALL_KIND:
            unit_price = card.rate("fulfillment.order", tier) * money(act.fraction)
            description = (
                f"Volume commitment shortfall — {act.note}" if act.note else "Volume commitment shortfall"
            )
            lines.append(_line(act.kind, FULFILLMENT, description, qty, unit_price, taxes, i))
            continue
        if act.kind not in RATE_KEYS:
            raise ValueError(f"Unknown activity {act.kind!r}")
        category, label, _unit = RATE_KEYS[act.kind]
        unit_price = card.rate(act.kind, tier) * money(act.fraction)
        description = label + (f" — {act.note}" if act.note else "")
        lines.append(_line(act.kind, category, description, qty, unit_price, taxes, i))
    return Priced(tuple(lines), card.currency, tier)


# The published standard card (version 1). Stored in the database by a data migration; kept here so the
# engine, the calculator and tests share one copy of the numbers.
STANDARD_CARD_V1: dict[str, Any] = {
    "currency": "USD",
    "shipping_markup_pct": "5",
    "rates": {
        "fulfillment.order": "3.25",
        "fulfillment.additional_unit": "0.75",
        "pick.unit": "0.25",
        "kitting.kit": "1.00",
        "packaging.poly_mailer": "0.35",
        "packaging.small_box": "0.65",
        "packaging.medium_box": "0.95",
        "packaging.large_box": "1.45",
        "packaging.xl_box": "2.25",
        "packaging.custom": "0.00",
        "handling.hazmat": "2.50",
        "handling.fragile": "0.75",
        "handling.insert": "0.15",
        "handling.gift_wrap": "1.50",
        "receiving.unit": "0.20",
        "receiving.carton": "3.50",
        "receiving.hour_unsorted": "45.00",
        "storage.bin": "4.00",
        "storage.shelf": "10.00",
        "storage.pallet": "25.00",
        "storage.cubic_foot": "0.55",
        "storage.long_term_cubic_foot": "1.50",
        "returns.order": "3.00",
        "returns.unit": "0.50",
        "label.fee": "0.10",
    },
    "tiers": [
        {"name": "Starter", "min_orders": 0, "rates": {}},
        {"name": "Growth", "min_orders": 500,
         "rates": {"fulfillment.order": "2.95", "fulfillment.additional_unit": "0.65", "pick.unit": "0.20"}},
        {"name": "Scale", "min_orders": 2000,
         "rates": {"fulfillment.order": "2.65", "fulfillment.additional_unit": "0.55", "pick.unit": "0.15",
                   "storage.pallet": "22.00"}},
        {"name": "Enterprise", "min_orders": 10000,
         "rates": {"fulfillment.order": "2.35", "fulfillment.additional_unit": "0.45", "pick.unit": "0.10",
                   "storage.pallet": "19.00"}},
    ],
}  # fmt: skip


def standard_card() -> RateCard:
    return card_from_data(STANDARD_CARD_V1, label="Standard v1")
