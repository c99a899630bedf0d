"""Directed putaway — the pure ranking (the database wrapper is ``selectors.putaway_suggest``).

1. A location that already holds the SKU (pick faces first, then reserve) with room left, nearest first;
2. else the nearest *empty* suitable location: the right type (pick, then reserve), big enough for the
   product's dimensions and weight, with the capabilities it needs (cold for temperature-controlled goods,
   hazmat for dangerous goods — and cold/hazmat slots are not wasted on products that do not need them).
Distance is straight-line from the origin (the receiving dock) on the floor plan's x/y in metres.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

TYPE_ORDER = {"pick": 0, "reserve": 1}


@dataclass(frozen=True)
class ProductNeeds:
    cold: bool = False
    hazmat: bool = False
    length_mm: int = 0
    width_mm: int = 0
    height_mm: int = 0
    weight_g: int = 0


@dataclass(frozen=True)
class Slot:
    location_id: int
    code: str
    type: str
    x: float
    y: float
    capacity: int = 0  # units; 0 = unlimited
    units: int = 0  # units in it now (any product)
    holds_product: bool = False
    cold: bool = False
    hazmat: bool = False
    max_length_mm: int = 0  # 0 = no limit
    max_width_mm: int = 0
    max_height_mm: int = 0
    max_weight_g: int = 0

    def room(self) -> float:
        return math.inf if self.capacity == 0 else self.capacity - self.units


def fits(slot: Slot, needs: ProductNeeds) -> bool:
    if needs.cold and not slot.cold:
        return False
    if needs.hazmat and not slot.hazmat:
        return False
    dims = sorted([needs.length_mm, needs.width_mm, needs.height_mm])
    limits = sorted([slot.max_length_mm, slot.max_width_mm, slot.max_height_mm])
    if all(limits) and any(d > lim for d, lim in zip(dims, limits, strict=True)):
        return False
    return not (slot.max_weight_g and needs.weight_g > slot.max_weight_g)


def wastes_capability(slot: Slot, needs: ProductNeeds) -> bool:
    return (slot.cold and not needs.cold) or (slot.hazmat and not needs.hazmat)


def distance(slot: Slot, origin: tuple[float, float]) -> float:
    return math.hypot(slot.x - origin[0], slot.y - origin[1])


def rank(
    slots: Iterable[Slot], *, needs: ProductNeeds, quantity: int, origin: tuple[float, float]
) -> list[tuple[str, Slot]]:
    """Suitable slots best first, each with the reason (``"holds SKU"`` or ``"empty"``)."""
    candidates = [s for s in slots if s.type in TYPE_ORDER and fits(s, needs)]
    holding = [s for s in candidates if s.holds_product and s.room() >= quantity]
    holding.sort(key=lambda s: (TYPE_ORDER[s.type], distance(s, origin), s.code))
    empty = [s for s in candidates if s.units == 0 and not s.holds_product and s.room() >= quantity]
    empty.sort(key=lambda s: (wastes_capability(s, needs), TYPE_ORDER[s.type], distance(s, origin), s.code))
    return [("holds SKU", s) for s in holding] + [("empty", s) for s in empty]


def suggest(
    slots: Iterable[Slot], *, needs: ProductNeeds, quantity: int, origin: tuple[float, float]
) -> tuple[str, Slot] | None:
    ranked = rank(slots, needs=needs, quantity=quantity, origin=origin)
    return ranked[0] if ranked else None
