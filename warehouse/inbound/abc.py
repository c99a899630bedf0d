"""ABC classification and cycle-count scheduling — pure functions, no database.

*Velocity × value*: a product's score is the units that left the building over the look-back window
(velocity) times its unit value. Products are ranked by score; those making up the first ``a_share`` of the
total score are class A, up to ``b_share`` class B, the rest (and every product with no movement) class C.
A products are counted monthly, B quarterly, C yearly by default (``CountPolicy``). Counts triggered by a
short pick or an emptied location jump the queue; among equals high-value and fast movers go first.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class CountPolicy:
    a_share: float = 0.80
    b_share: float = 0.95
    a_days: int = 30
    b_days: int = 90
    c_days: int = 365
    recount_variance_pct: float = 5.0  # recount when |variance| > this % of expected ...
    recount_variance_units: int = 2  # ... and more than this many units
    approval_value: Decimal = Decimal("100.00")  # adjustments worth more need a manager

    def interval_days(self, abc_class: str) -> int:
        return {"A": self.a_days, "B": self.b_days}.get(abc_class, self.c_days)


DEFAULT_POLICY = CountPolicy()


@dataclass(frozen=True)
class SkuStats:
    product_id: int
    units_moved: int  # velocity over the look-back window
    unit_value: Decimal


def score(stats: SkuStats) -> Decimal:
    return Decimal(max(0, stats.units_moved)) * max(Decimal(0), stats.unit_value)


def classify(stats: Iterable[SkuStats], *, policy: CountPolicy = DEFAULT_POLICY) -> dict[int, str]:
    """``{product_id: "A" | "B" | "C"}`` by cumulative share of velocity × value."""
    items = sorted(stats, key=lambda s: (-score(s), s.product_id))
    total = sum((score(s) for s in items), Decimal(0))
    out: dict[int, str] = {}
    running = Decimal(0)
    a_cut = Decimal(str(policy.a_share))
    b_cut = Decimal(str(policy.b_share))
    for s in items:
        sc = score(s)
        if total == 0 or sc == 0:
            out[s.product_id] = "C"
            continue
        share_before = running / total
        running += sc
        # A product belongs to the class in which its share *starts*, so the top product is always A.
        if share_before < a_cut:
            out[s.product_id] = "A"
        elif share_before < b_cut:
            out[s.product_id] = "B"
        else:
            out[s.product_id] = "C"
    return out


REASON_WEIGHT = {"short_pick": 1000, "location_empty": 800, "manual": 600, "recount": 900, "scheduled": 0}
CLASS_WEIGHT = {"A": 300, "B": 200, "C": 100}


def count_priority(
    *, reason: str, abc_class: str = "C", unit_value: Decimal = Decimal(0), units_moved: int = 0
) -> int:
    """Higher first. Triggered counts outrank scheduled ones; then class; then value and velocity."""
    value_bonus = int(20 * math.log10(1 + float(max(Decimal(0), unit_value))))
    velocity_bonus = int(20 * math.log10(1 + max(0, units_moved)))
    return REASON_WEIGHT.get(reason, 0) + CLASS_WEIGHT.get(abc_class, 100) + value_bonus + velocity_bonus


def is_due(
    *, abc_class: str, last_counted: dt.date | None, today: dt.date, policy: CountPolicy = DEFAULT_POLICY
) -> bool:
    if last_counted is None:
        return True
    return (today - last_counted).days >= policy.interval_days(abc_class)


def due_products(
    classes: Mapping[int, str],
    last_counted: Mapping[int, dt.date | None],
    *,
    today: dt.date,
    policy: CountPolicy = DEFAULT_POLICY,
) -> list[int]:
    return sorted(
        pid
        for pid, cls in classes.items()
        if is_due(abc_class=cls, last_counted=last_counted.get(pid), today=today, policy=policy)
    )


def needs_recount(*, expected: int, counted: int, policy: CountPolicy = DEFAULT_POLICY) -> bool:
    variance = abs(counted - expected)
    if variance == 0:
        return False
    pct = 100.0 * variance / expected if expected else 100.0
    return variance > policy.recount_variance_units or pct > policy.recount_variance_pct


def needs_approval(*, variance: int, unit_value: Decimal, policy: CountPolicy = DEFAULT_POLICY) -> bool:
    return abs(variance) * unit_value > policy.approval_value
