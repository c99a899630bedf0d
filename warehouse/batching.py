"""Order batching for a picker's cart — pure Python, no Django.

A cart carries ``cart.totes`` totes (one per order) and at most ``cart.volume`` of goods. Orders that
share a cart are picked on one route, so the problem is to group the released orders into feasible
batches with the least total route length. We use the Clarke–Wright savings algorithm in the variant
that recomputes savings after every merge (de Koster, van der Poort & Wolters 1999, "C&W (ii)"), the
route lengths being the real optimal routes of `warehouse.routing.plan_route`, followed by a pass of
order moves and swaps between batches that each shorten the total.

To keep the cost down on big waves, exact savings are computed only between orders that are near one
another (each order's ``neighbours`` nearest by the distance between their stops' centres); distant
orders have small or negative savings anyway.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from warehouse.routing import Layout, Route, Stop, plan_route


@dataclass(frozen=True)
class Cart:
    totes: int = 8
    volume: float = 400_000.0  # cm³ of goods


@dataclass(frozen=True)
class OrderPicks:
    key: Hashable
    stops: tuple[Stop, ...]
    volume: float = 0.0
    totes: int = 1
    alone: bool = False  # expedited or large: single-order picking


@dataclass
class Batch:
    orders: list[Hashable]
    route: Route
    volume: float = 0.0
    totes: int = 0
    stops: list[Stop] = field(default_factory=list)

    @property
    def length(self) -> float:
        return self.route.length


@dataclass
class BatchPlan:
    batches: list[Batch]
    single_order_length: float  # total travel if every order were picked on its own

    @property
    def length(self) -> float:
        return sum(b.length for b in self.batches)

    @property
    def saving_pct(self) -> float:
        if self.single_order_length <= 0:
            return 0.0
        return 100.0 * (1 - self.length / self.single_order_length)


def _merge_stops(groups: Sequence[Sequence[Stop]]) -> list[Stop]:
    return [s for g in groups for s in g]


def batch_orders(
    layout: Layout,
    orders: Sequence[OrderPicks],
    cart: Cart,
    *,
    neighbours: int = 12,
    improve: bool = True,
    router: Callable[[Layout, Sequence[Stop]], Route] = plan_route,
) -> BatchPlan:
    cache: dict[frozenset, Route] = {}

    def route_of(keys: frozenset) -> Route:
        r = cache.get(keys)
        if r is None:
            r = router(layout, _merge_stops([by_key[k].stops for k in sorted(keys, key=order_pos.get)]))
            cache[keys] = r
        return r

    by_key = {o.key: o for o in orders}
    order_pos = {o.key: i for i, o in enumerate(orders)}
    single_len = 0.0
    for o in orders:
        single_len += route_of(frozenset([o.key])).length

    # Batches as frozensets of order keys; capacity per batch.
    def fits(keys: frozenset) -> bool:
        if len(keys) > 1 and any(by_key[k].alone for k in keys):
            return False
        totes = sum(by_key[k].totes for k in keys)
        vol = sum(by_key[k].volume for k in keys)
        return totes <= cart.totes and vol <= cart.volume + 1e-9

    # Candidate neighbours by stop centre distance (cheap screen).
    def centre(o: OrderPicks) -> tuple[float, float]:
        if not o.stops:
            return (0.0, 0.0)
        xs = [layout.aisle_x[s.point.aisle] for s in o.stops]
        ys = [s.point.y for s in o.stops]
        return (sum(xs) / len(xs), sum(ys) / len(ys))

    centres = {o.key: centre(o) for o in orders}
    near: dict[Hashable, list[Hashable]] = {}
    keys = [o.key for o in orders if not o.alone]
    for k in keys:
        cx, cy = centres[k]
        ranked = sorted(
            (abs(cx - centres[j][0]) + abs(cy - centres[j][1]), order_pos[j], j) for j in keys if j != k
        )
        near[k] = [j for _, _, j in ranked[:neighbours]]

    batch_of: dict[Hashable, frozenset] = {o.key: frozenset([o.key]) for o in orders}
    alive: set[frozenset] = set(batch_of.values())
    heap: list[tuple[float, int, frozenset, frozenset]] = []
    tie = itertools.count()

    def push_savings(b: frozenset) -> None:
        others = {batch_of[j] for k in b for j in near.get(k, ())} - {b}
        for o in others:
            u = b | o
            if not fits(u):
                continue
            s = route_of(b).length + route_of(o).length - route_of(u).length
            if s > 1e-9:
                heapq.heappush(heap, (-s, next(tie), b, o))

    for b in list(alive):
        push_savings(b)
    while heap:
        _, _, b1, b2 = heapq.heappop(heap)
        if b1 not in alive or b2 not in alive:
            continue
        u = b1 | b2
        alive -= {b1, b2}
        alive.add(u)
        for k in u:
            batch_of[k] = u
        push_savings(u)

    batches = [set(b) for b in alive]
    if improve:
        batches = _improve(batches, route_of, fits)

    result: list[Batch] = []
    for b in sorted(batches, key=lambda s: min(order_pos[k] for k in s)):
        ks = frozenset(b)
        members = sorted(ks, key=order_pos.get)
        result.append(
            Batch(
                orders=members,
                route=route_of(ks),
                volume=sum(by_key[k].volume for k in members),
                totes=sum(by_key[k].totes for k in members),
                stops=_merge_stops([by_key[k].stops for k in members]),
            )
        )
    return BatchPlan(batches=result, single_order_length=single_len)


def _improve(
    batches: list[set], route_of: Callable[[frozenset], Route], fits: Callable[[frozenset], bool]
) -> list[set]:
    """Move single orders between batches (or into their own) while the total travel drops."""

    def length(b: set) -> float:
        return route_of(frozenset(b)).length if b else 0.0

    improved, rounds = True, 0
    while improved and rounds < 3:
        improved, rounds = False, rounds + 1
        for i in range(len(batches)):
            for k in list(batches[i]):
                if len(batches[i]) <= 1:
                    continue
                src = batches[i]
                without = src - {k}
                base = length(src)
                gain_out = base - length(without)
                best, best_j = -1e-9, -1
                for j in range(len(batches)):
                    if j == i or not fits(frozenset(batches[j] | {k})):
                        continue
                    delta = length(batches[j] | {k}) - length(batches[j]) - gain_out
                    if delta < best:
                        best, best_j = delta, j
                if best_j >= 0:
                    batches[best_j] = batches[best_j] | {k}
                    batches[i] = without
                    improved = True
        batches = [b for b in batches if b]
    return batches


def single_order_plan(layout: Layout, orders: Sequence[OrderPicks]) -> BatchPlan:
    """Every order on its own route — the baseline batching is compared with."""
    batches = [
        Batch(
            orders=[o.key],
            route=plan_route(layout, o.stops),
            volume=o.volume,
            totes=o.totes,
            stops=list(o.stops),
        )
        for o in orders
    ]
    return BatchPlan(batches=batches, single_order_length=sum(b.length for b in batches))


__all__ = ["Batch", "BatchPlan", "Cart", "OrderPicks", "batch_orders", "single_order_plan"]
