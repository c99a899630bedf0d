"""Box selection and 3D placement — pure Python, no Django.

`recommend_boxes(items, boxes)` chooses, for the items of one order, the boxes that minimise
**box cost + shipping cost**, the shipping cost being billed on max(actual weight, dimensional weight =
L×W×H / divisor). Every recommendation is backed by a real placement: `place_items` puts each item at
integer-millimetre coordinates inside the box with the extreme-point heuristic (Crainic, Perboli &
Tadei 2008) — six rotations, or only the two that keep the top up for "this side up" items, every item
resting at least ``min_support`` of its base on the floor or on other items, no two items overlapping.
When nothing in the catalog holds the whole order, it is split over several parcels. Items that ship in
their own container become a parcel of their own; items that must not be bagged (and fragile ones) never
go into poly bags or mailers.

Dimensions are millimetres, weights grams, money `Decimal`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

DIM_DIVISOR = 5000  # mm³ per gram ≡ 5000 cm³/kg (≈ 139 in³/lb), the common carrier divisor
SOFT_KINDS = {"poly_bag", "mailer"}


@dataclass(frozen=True)
class Item:
    key: Hashable
    length: int
    width: int
    height: int
    weight_g: int
    this_side_up: bool = False
    own_container: bool = False
    no_bag: bool = False
    fragile: bool = False

    @property
    def volume(self) -> int:
        return self.length * self.width * self.height


@dataclass(frozen=True)
class BoxType:
    code: str
    length: int
    width: int
    height: int
    max_weight_g: int
    cost: Decimal
    kind: str = "box"  # box | mailer | poly_bag | branded
    tare_g: int = 0

    @property
    def volume(self) -> int:
        return self.length * self.width * self.height


@dataclass(frozen=True)
class Placement:
    key: Hashable
    x: int
    y: int
    z: int
    dx: int
    dy: int
    dz: int


@dataclass
class Parcel:
    box: BoxType | None  # None: the item ships in its own container
    placements: list[Placement]
    weight_g: int
    length: int
    width: int
    height: int
    billable_weight_g: int
    box_cost: Decimal
    shipping_cost: Decimal
    item_volume: int
    oversize: bool = False

    @property
    def cost(self) -> Decimal:
        return self.box_cost + self.shipping_cost

    @property
    def utilisation(self) -> float:
        vol = self.length * self.width * self.height
        return self.item_volume / vol if vol else 0.0

    @property
    def keys(self) -> list[Hashable]:
        return [p.key for p in self.placements]


@dataclass
class PackPlan:
    parcels: list[Parcel] = field(default_factory=list)

    @property
    def cost(self) -> Decimal:
        return sum((p.cost for p in self.parcels), Decimal("0"))

    @property
    def utilisation(self) -> float:
        boxed = [p for p in self.parcels if p.box is not None]
        vol = sum(p.box.volume for p in boxed if p.box)
        return sum(p.item_volume for p in boxed) / vol if vol else 0.0


# --- Shipping cost --------------------------------------------------------------------------------------

RateFn = Callable[[int, tuple[int, int, int]], Decimal]

# A ground rate card by billable weight (grams → price); beyond the last step, + per started kg.
RATE_CARD: list[tuple[int, Decimal]] = [
    (250, Decimal("4.20")),
    (500, Decimal("5.10")),
    (1000, Decimal("6.80")),
    (2000, Decimal("9.40")),
    (3000, Decimal("11.60")),
    (5000, Decimal("14.90")),
    (10000, Decimal("21.50")),
]
PER_EXTRA_KG = Decimal("1.95")


def billable_weight_g(weight_g: int, dims: tuple[int, int, int], divisor: int = DIM_DIVISOR) -> int:
    length, width, height = dims
    return max(weight_g, -(-(length * width * height) // divisor))


def rate_card_cost(billable_g: int, dims: tuple[int, int, int]) -> Decimal:
    """Default estimate of the shipping price for a billable weight (grams)."""
    for limit, price in RATE_CARD:
        if billable_g <= limit:
            return price
    extra_kg = -(-(billable_g - RATE_CARD[-1][0]) // 1000)
    return (RATE_CARD[-1][1] + PER_EXTRA_KG * extra_kg).quantize(Decimal("0.01"), ROUND_HALF_UP)


# --- 3D placement ------------------------------------------------------------------------------------------


def orientations(item: Item) -> list[tuple[int, int, int]]:
    l, w, h = item.length, item.width, item.height  # noqa: E741
    if item.this_side_up:
        cands = [(l, w, h), (w, l, h)]
    else:
        cands = [(l, w, h), (w, l, h), (l, h, w), (h, l, w), (w, h, l), (h, w, l)]
    out: list[tuple[int, int, int]] = []
    for c in cands:
        if c not in out:
            out.append(c)
    return out


def _overlap(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def _fits(pl: list[Placement], x: int, y: int, z: int, dx: int, dy: int, dz: int) -> bool:
    for p in pl:
        if (
            _overlap(x, x + dx, p.x, p.x + p.dx)
            and _overlap(y, y + dy, p.y, p.y + p.dy)
            and _overlap(z, z + dz, p.z, p.z + p.dz)
        ):
            return False
    return True


def _support(pl: list[Placement], x: int, y: int, z: int, dx: int, dy: int) -> float:
    if z == 0:
        return 1.0
    area = 0
    for p in pl:
        if p.z + p.dz == z:
            ox = min(x + dx, p.x + p.dx) - max(x, p.x)
            oy = min(y + dy, p.y + p.dy) - max(y, p.y)
            if ox > 0 and oy > 0:
                area += ox * oy
    return area / (dx * dy)


def _project(pl: list[Placement], pt: tuple[int, int, int], axis: int) -> tuple[int, int, int]:
    """Slide ``pt`` towards 0 along ``axis`` until it meets an item or the wall."""
    best = 0
    for p in pl:
        lo = (p.x, p.y, p.z)
        size = (p.dx, p.dy, p.dz)
        hi_face = lo[axis] + size[axis]
        if hi_face > pt[axis]:
            continue
        if all(lo[k] <= pt[k] < lo[k] + size[k] for k in range(3) if k != axis):
            best = max(best, hi_face)
    q = list(pt)
    q[axis] = best
    return (q[0], q[1], q[2])


def place_items(
    items: Sequence[Item],
    box: BoxType,
    *,
    min_support: float = 0.5,
    partial: bool = False,
) -> tuple[list[Placement], list[Item]] | None:
    """Place ``items`` inside ``box``. Returns (placements, left over items) — with ``partial`` False,
    None unless every item fits."""
    if not partial and sum(i.volume for i in items) > box.volume:
        return None
    order = sorted(items, key=lambda i: (-i.volume, -max(i.length, i.width, i.height), str(i.key)))
    placed: list[Placement] = []
    eps: set[tuple[int, int, int]] = {(0, 0, 0)}
    left: list[Item] = []
    bl, bw, bh = box.length, box.width, box.height
    for it in order:
        best = None
        for ex, ey, ez in sorted(eps, key=lambda p: (p[2], p[1], p[0])):
            for dx, dy, dz in orientations(it):
                if ex + dx > bl or ey + dy > bw or ez + dz > bh:
                    continue
                if not _fits(placed, ex, ey, ez, dx, dy, dz):
                    continue
                if min_support and _support(placed, ex, ey, ez, dx, dy) < min_support:
                    continue
                merit = (ez + dz, ey + dy, ex + dx)  # keep the pile low and compact
                if best is None or (ez, merit) < (best[0][2], best[1]):
                    best = ((ex, ey, ez, dx, dy, dz), merit)
            if best is not None and best[0][2] < ez:
                break
        if best is None:
            if not partial:
                return None
            left.append(it)
            continue
        x, y, z, dx, dy, dz = best[0]
        placed.append(Placement(it.key, x, y, z, dx, dy, dz))
        new = [
            _project(placed, (x + dx, y, z), 1),
            _project(placed, (x + dx, y, z), 2),
            _project(placed, (x, y + dy, z), 0),
            _project(placed, (x, y + dy, z), 2),
            _project(placed, (x, y, z + dz), 0),
            _project(placed, (x, y, z + dz), 1),
            (x + dx, y, z),
            (x, y + dy, z),
            (x, y, z + dz),
        ]
        eps.discard((x, y, z))
        for p in new:
            if p[0] < bl and p[1] < bw and p[2] < bh:
                eps.add(p)
        eps = {
            p
            for p in eps
            if not any(
                q.x <= p[0] < q.x + q.dx and q.y <= p[1] < q.y + q.dy and q.z <= p[2] < q.z + q.dz
                for q in placed
            )
        }
    return placed, left


# --- Box recommendation ----------------------------------------------------------------------------------


def allowed_boxes(items: Sequence[Item], boxes: Sequence[BoxType]) -> list[BoxType]:
    if any(i.no_bag or i.fragile for i in items):
        return [b for b in boxes if b.kind not in SOFT_KINDS]
    return list(boxes)


def _parcel(items: Sequence[Item], box: BoxType, placements: list[Placement], rate: RateFn) -> Parcel:
    weight = sum(i.weight_g for i in items) + box.tare_g
    dims = (box.length, box.width, box.height)
    bill = billable_weight_g(weight, dims)
    return Parcel(
        box=box,
        placements=placements,
        weight_g=weight,
        length=box.length,
        width=box.width,
        height=box.height,
        billable_weight_g=bill,
        box_cost=box.cost,
        shipping_cost=rate(bill, dims),
        item_volume=sum(i.volume for i in items),
    )


def _own(item: Item, rate: RateFn, *, oversize: bool = False) -> Parcel:
    dims = (item.length, item.width, item.height)
    bill = billable_weight_g(item.weight_g, dims)
    return Parcel(
        box=None,
        placements=[Placement(item.key, 0, 0, 0, *dims)],
        weight_g=item.weight_g,
        length=dims[0],
        width=dims[1],
        height=dims[2],
        billable_weight_g=bill,
        box_cost=Decimal("0"),
        shipping_cost=rate(bill, dims),
        item_volume=item.volume,
        oversize=oversize,
    )


def best_single_box(
    items: Sequence[Item],
    boxes: Sequence[BoxType],
    *,
    rate: RateFn = rate_card_cost,
    min_support: float = 0.5,
) -> Parcel | None:
    """The cheapest (box + shipping) box that holds all ``items`` in one placement, or None."""
    weight = sum(i.weight_g for i in items)
    volume = sum(i.volume for i in items)
    cands = []
    for b in allowed_boxes(items, boxes):
        if b.volume < volume or weight + b.tare_g > b.max_weight_g:
            continue
        dims = (b.length, b.width, b.height)
        est = b.cost + rate(billable_weight_g(weight + b.tare_g, dims), dims)
        cands.append((est, b.volume, b.code, b))
    for _, _, _, b in sorted(cands, key=lambda c: c[:3]):
        res = place_items(items, b, min_support=min_support)
        if res is not None:
            return _parcel(items, b, res[0], rate)
    return None


def recommend_boxes(
    items: Sequence[Item],
    boxes: Sequence[BoxType],
    *,
    rate: RateFn = rate_card_cost,
    min_support: float = 0.5,
) -> PackPlan:
    """The parcels that ship ``items`` at the least box + shipping cost (one box when one fits)."""
    plan = PackPlan()
    rest: list[Item] = []
    for it in items:
        if it.own_container:
            plan.parcels.append(_own(it, rate))
        else:
            rest.append(it)
    # An item no box can hold on its own ships as it is, flagged oversize.
    boxable: list[Item] = []
    for it in rest:
        if best_single_box([it], boxes, rate=rate, min_support=min_support) is None:
            plan.parcels.append(_own(it, rate, oversize=True))
        else:
            boxable.append(it)
    while boxable:
        one = best_single_box(boxable, boxes, rate=rate, min_support=min_support)
        if one is not None:
            plan.parcels.append(one)
            break
        # Split: fill the box that takes the most volume (then the cheapest), then re-box that group.
        best = None
        for b in allowed_boxes(boxable, boxes):
            res = place_items(boxable, b, min_support=min_support, partial=True)
            if res is None or not res[0]:
                continue
            keys = {p.key for p in res[0]}
            group = [i for i in boxable if i.key in keys]
            while sum(i.weight_g for i in group) + b.tare_g > b.max_weight_g and len(group) > 1:
                group.pop(group.index(min(group, key=lambda i: i.volume)))
            vol = sum(i.volume for i in group)
            score = (vol, -b.cost)
            if best is None or score > best[0]:
                best = (score, group)
        if best is None:  # cannot happen: each item fits some box on its own
            plan.parcels.extend(_own(i, rate, oversize=True) for i in boxable)
            break
        group = best[1]
        parcel = best_single_box(group, boxes, rate=rate, min_support=min_support)
        if parcel is None:
            parcel = best_single_box(group[:1], boxes, rate=rate, min_support=min_support)
            group = group[:1]
        assert parcel is not None
        plan.parcels.append(parcel)
        keys = {i.key for i in group}
        boxable = [i for i in boxable if i.key not in keys]
    return plan


# --- Diagram ------------------------------------------------------------------------------------------------

_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]


def parcel_svg(parcel: Parcel, *, size: int = 260, labels: dict[Hashable, str] | None = None) -> str:
    """An isometric SVG of the box and its items (inline on the pack screen). Items are drawn back to
    front so nearer ones cover farther ones."""
    import math

    cos30, sin30 = math.cos(math.pi / 6), 0.5
    bx, by, bz = parcel.length, parcel.width, parcel.height

    def proj(x: float, y: float, z: float) -> tuple[float, float]:
        return ((x - y) * cos30, (x + y) * sin30 - z)

    corners = [proj(x, y, z) for x in (0, bx) for y in (0, by) for z in (0, bz)]
    minx = min(c[0] for c in corners)
    maxx = max(c[0] for c in corners)
    miny = min(c[1] for c in corners)
    maxy = max(c[1] for c in corners)
    scale = (size - 20) / max(maxx - minx, maxy - miny, 1)

    def pt(x: float, y: float, z: float) -> str:
        u, v = proj(x, y, z)
        return f"{(u - minx) * scale + 10:.1f},{(v - miny) * scale + 10:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{size}" height="{size}"'
        ' role="img" aria-label="Box packing diagram">'
    ]
    # back walls of the box
    parts.append(
        f'<polygon points="{pt(0, 0, 0)} {pt(bx, 0, 0)} {pt(bx, 0, bz)} {pt(0, 0, bz)}" fill="#f4efe6" stroke="#8a6d3b"/>'
    )
    parts.append(
        f'<polygon points="{pt(0, 0, 0)} {pt(0, by, 0)} {pt(0, by, bz)} {pt(0, 0, bz)}" fill="#efe7d8" stroke="#8a6d3b"/>'
    )
    parts.append(
        f'<polygon points="{pt(0, 0, 0)} {pt(bx, 0, 0)} {pt(bx, by, 0)} {pt(0, by, 0)}" fill="#e8dcc6" stroke="#8a6d3b"/>'
    )
    order = sorted(enumerate(parcel.placements), key=lambda t: (t[1].x + t[1].y + t[1].z, t[1].z))
    for i, p in order:
        c = _COLOURS[i % len(_COLOURS)]
        x0, y0, z0, x1, y1, z1 = p.x, p.y, p.z, p.x + p.dx, p.y + p.dy, p.z + p.dz
        title = (labels or {}).get(p.key, str(p.key))
        parts.append(f"<g><title>{_esc(title)}</title>")
        parts.append(
            f'<polygon points="{pt(x0, y1, z0)} {pt(x1, y1, z0)} {pt(x1, y1, z1)} {pt(x0, y1, z1)}" fill="{c}" stroke="#222" stroke-width="0.6" opacity="0.95"/>'
        )
        parts.append(
            f'<polygon points="{pt(x1, y0, z0)} {pt(x1, y1, z0)} {pt(x1, y1, z1)} {pt(x1, y0, z1)}" fill="{c}" stroke="#222" stroke-width="0.6" opacity="0.8"/>'
        )
        parts.append(
            f'<polygon points="{pt(x0, y0, z1)} {pt(x1, y0, z1)} {pt(x1, y1, z1)} {pt(x0, y1, z1)}" fill="{c}" stroke="#222" stroke-width="0.6" opacity="0.65"/>'
        )
        parts.append("</g>")
    # front edges of the box
    parts.append(
        f'<polyline points="{pt(bx, 0, bz)} {pt(bx, by, bz)} {pt(0, by, bz)}" fill="none" stroke="#8a6d3b" stroke-dasharray="4 3"/>'
    )
    parts.append(
        f'<polyline points="{pt(bx, by, 0)} {pt(bx, by, bz)}" fill="none" stroke="#8a6d3b" stroke-dasharray="4 3"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


__all__ = [
    "DIM_DIVISOR",
    "BoxType",
    "Item",
    "PackPlan",
    "Parcel",
    "Placement",
    "best_single_box",
    "billable_weight_g",
    "parcel_svg",
    "place_items",
    "rate_card_cost",
    "recommend_boxes",
]
