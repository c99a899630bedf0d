"""Routing: choose the warehouse(s) that fulfil an order, and say why. Pure code — the caller gathers the
lines, warehouses, stock and inbound figures, and stores the returned plan and explanation.

Options considered:
- **single**: one warehouse has every line in stock (near or farther away);
- **split**: several warehouses together have everything — each extra parcel costs ``split_penalty``;
- **wait**: one warehouse will have everything within ``max_wait_days`` (inbound stock) — each day of
  waiting costs ``wait_cost_per_day``;
- **backorder**: nothing complete now: the warehouse covering most units takes the order and the rest waits.

Rules: hazmat lines only to certified warehouses, cold-chain lines only to cold storage. Expedited and
overnight orders weigh delivery days heavily (and prefer a warehouse that still makes today's cut-off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from orders import zones

DAY_VALUE = {"standard": Decimal("0.75"), "expedited": Decimal("15.00"), "overnight": Decimal("40.00")}


@dataclass(frozen=True)
class WarehouseInfo:
    id: int
    code: str
    name: str = ""
    postal_code: str = ""
    country: str = "US"
    hazmat_certified: bool = False
    cold_storage: bool = False
    cutoff: time | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class LineNeed:
    line_id: int
    product_id: int
    sku: str
    quantity: int
    weight_g: int = 0
    hazmat: bool = False
    cold_chain: bool = False


@dataclass(frozen=True)
class RoutingSettings:
    allow_split: bool = True
    max_wait_days: int = 0
    split_penalty: Decimal = Decimal("3.00")
    wait_cost_per_day: Decimal = Decimal("2.00")
    preferred: tuple[str, ...] = ()


@dataclass
class Option:
    kind: str  # single | split | wait | backorder
    assignments: dict[int, list[tuple[int, int]]]  # line_id -> [(warehouse_id, quantity)]
    warehouses: list[str]
    cost: Decimal
    zone: int
    promised: date
    wait_days: int = 0
    score: Decimal = Decimal("0")
    note: str = ""


@dataclass
class Plan:
    kind: str  # single | split | wait | backorder | none
    assignments: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    cost: Decimal | None = None
    zone: int | None = None
    promised: date | None = None
    explanation: dict = field(default_factory=dict)
    error: str = ""

    @property
    def is_split(self) -> bool:
        return len({wh for parts in self.assignments.values() for wh, _ in parts}) > 1


def _money(d: Decimal) -> str:
    return f"${d:.2f}"


def _weekday(d: date) -> str:
    return d.strftime("%a %b %d").replace(" 0", " ")


def plan(
    *,
    lines: list[LineNeed],
    warehouses: list[WarehouseInfo],
    stock: dict[tuple[int, int], int],
    inbound: dict[tuple[int, int], tuple[int, int]] | None = None,  # (product, wh) -> (quantity, in days)
    dest_postal: str,
    dest_country: str,
    service: str,
    settings: RoutingSettings,
    now: datetime,
) -> Plan:
    inbound = inbound or {}
    rank = {code: i for i, code in enumerate(settings.preferred)}
    candidates = []
    info: dict[int, dict] = {}
    for wh in warehouses:
        excluded = ""
        if any(line.hazmat for line in lines) and not wh.hazmat_certified:
            excluded = "not hazmat-certified"
        elif any(line.cold_chain for line in lines) and not wh.cold_storage:
            excluded = "no cold storage"
        z = zones.zone(
            origin_postal=wh.postal_code,
            origin_country=wh.country,
            dest_postal=dest_postal,
            dest_country=dest_country,
        )
        weight = sum(line.weight_g * line.quantity for line in lines)
        local_now = now.astimezone(ZoneInfo(wh.timezone or "UTC"))
        ships = zones.ship_date(now=local_now, cutoff=wh.cutoff)
        transit = zones.transit_days(zone_=z, service=service)
        in_stock = {line.sku: stock.get((line.product_id, wh.id), 0) for line in lines}
        full = sum(1 for line in lines if stock.get((line.product_id, wh.id), 0) >= line.quantity)
        row = {
            "warehouse": wh.code,
            "name": wh.name,
            "eligible": not excluded,
            "excluded_because": excluded,
            "lines_in_stock": f"{full}/{len(lines)}",
            "stock": in_stock,
            "zone": z,
            "rate": str(zones.rate(zone_=z, weight_g=weight, service=service)),
            "transit_days": transit,
            "ships": ships.isoformat(),
            "makes_cutoff": ships == local_now.date(),
            "promised": zones.add_business_days(ships, transit).isoformat(),
        }
        candidates.append(row)
        info[wh.id] = {"wh": wh, "zone": z, "ships": ships, "transit": transit, "row": row}

    eligible = [wh for wh in warehouses if info[wh.id]["row"]["eligible"]]
    if not lines:
        return Plan(kind="none", error="The order has no open lines.", explanation={"candidates": candidates})
    if not eligible:
        reasons = "; ".join(f"{c['warehouse']}: {c['excluded_because']}" for c in candidates) or "none set up"
        return Plan(
            kind="none",
            error=f"No warehouse may ship this order ({reasons}).",
            explanation={"candidates": candidates, "reason": "no eligible warehouse"},
        )

    def parcel(wh_id: int, line_ids: list[int]) -> tuple[Decimal, date]:
        weight = sum(line.weight_g * line.quantity for line in lines if line.line_id in line_ids)
        i = info[wh_id]
        cost = zones.rate(zone_=i["zone"], weight_g=weight, service=service)
        return cost, zones.add_business_days(i["ships"], i["transit"])

    options: list[Option] = []
    all_ids = [line.line_id for line in lines]
    for wh in eligible:
        complete = all(stock.get((line.product_id, wh.id), 0) >= line.quantity for line in lines)
        cost, promised = parcel(wh.id, all_ids)
        assign = {line.line_id: [(wh.id, line.quantity)] for line in lines}
        if complete:
            options.append(Option("single", assign, [wh.code], cost, info[wh.id]["zone"], promised))
        elif settings.max_wait_days:
            waits = []
            for line in lines:
                have = stock.get((line.product_id, wh.id), 0)
                if have >= line.quantity:
                    continue
                qty, days = inbound.get((line.product_id, wh.id), (0, 0))
                waits.append(days if have + qty >= line.quantity else 10**6)
            wait = max(waits) if waits else 0
            if wait <= settings.max_wait_days:
                options.append(
                    Option(
                        "wait",
                        assign,
                        [wh.code],
                        cost + settings.wait_cost_per_day * wait,
                        info[wh.id]["zone"],
                        zones.add_business_days(promised, wait),
                        wait_days=wait,
                    )
                )

    if settings.allow_split and len(eligible) > 1:
        split = _split(lines, eligible, stock, info, rank)
        if split is not None:
            by_wh: dict[int, list[int]] = {}
            for line_id, parts in split.items():
                for wh_id, _ in parts:
                    by_wh.setdefault(wh_id, []).append(line_id)
            if len(by_wh) > 1:
                cost = Decimal("0")
                promised = date.min
                for wh_id, ids in by_wh.items():
                    c, p = parcel(wh_id, ids)
                    cost += c
                    promised = max(promised, p)
                cost += settings.split_penalty * (len(by_wh) - 1)
                options.append(
                    Option(
                        "split",
                        split,
                        [info[w]["wh"].code for w in by_wh],
                        cost,
                        max(info[w]["zone"] for w in by_wh),
                        promised,
                        note=f"{len(by_wh)} parcels, split penalty {_money(settings.split_penalty)} each extra",
                    )
                )

    if not options:  # nothing complete: backorder where most units are

        def coverage(wh):
            units = sum(min(stock.get((ln.product_id, wh.id), 0), ln.quantity) for ln in lines)
            return (-units, parcel(wh.id, all_ids)[0], rank.get(wh.code, 99))

        best = min(eligible, key=coverage)
        cost, promised = parcel(best.id, all_ids)
        options.append(
            Option(
                "backorder",
                {line.line_id: [(best.id, line.quantity)] for line in lines},
                [best.code],
                cost,
                info[best.id]["zone"],
                promised,
                note="no warehouse (or combination) has everything; the shortfall waits for stock",
            )
        )

    earliest = min(o.promised for o in options)
    day_value = DAY_VALUE.get(service, DAY_VALUE["standard"])
    for o in options:
        o.score = o.cost + day_value * (o.promised - earliest).days
    options.sort(key=lambda o: (o.score, o.promised, min(rank.get(c, 99) for c in o.warehouses)))
    winner = options[0]
    reason = _reason(winner, options[1:], info, lines)
    winner_ids = []
    for parts in winner.assignments.values():
        for wh_id, _ in parts:
            if wh_id not in winner_ids:
                winner_ids.append(wh_id)
    return Plan(
        kind=winner.kind,
        assignments=winner.assignments,
        cost=winner.cost,
        zone=winner.zone,
        promised=winner.promised,
        explanation={
            "strategy": winner.kind,
            "winner": ", ".join(winner.warehouses),
            "warehouse_id": winner_ids[0] if winner_ids else None,
            "warehouse_ids": winner_ids,
            "reason": reason,
            "service": service,
            "destination": f"{dest_postal} {dest_country}".strip(),
            "split_penalty": str(settings.split_penalty),
            "allow_split": settings.allow_split,
            "max_wait_days": settings.max_wait_days,
            "candidates": candidates,
            "options": [
                {
                    "kind": o.kind,
                    "warehouses": o.warehouses,
                    "cost": str(o.cost),
                    "promised": o.promised.isoformat(),
                    "score": str(o.score.quantize(Decimal("0.01"))),
                    "wait_days": o.wait_days,
                    "note": o.note,
                }
                for o in options
            ],
        },
    )


def _split(lines, eligible, stock, info, rank) -> dict[int, list[tuple[int, int]]] | None:
    """Greedy cover: take the warehouse that has the most lines complete (cheapest first on ties), then the
    next for what is left; a line no single warehouse holds is split across warehouses by quantity."""
    remaining = {line.line_id: line.quantity for line in lines}
    avail = {(p, w): q for (p, w), q in stock.items()}
    assign: dict[int, list[tuple[int, int]]] = {line.line_id: [] for line in lines}
    by_id = {line.line_id: line for line in lines}
    used: list[int] = []
    for _ in range(len(eligible)):
        open_ids = [i for i, q in remaining.items() if q > 0]
        if not open_ids:
            break

        def gain(wh, open_ids=open_ids):
            full = sum(1 for i in open_ids if avail.get((by_id[i].product_id, wh.id), 0) >= remaining[i])
            units = sum(min(avail.get((by_id[i].product_id, wh.id), 0), remaining[i]) for i in open_ids)
            return (-full, -units, info[wh.id]["zone"], rank.get(wh.code, 99))

        wh = min((w for w in eligible if w.id not in used), key=gain, default=None)
        if wh is None or gain(wh)[1] == 0:
            break
        used.append(wh.id)
        for i in open_ids:
            have = avail.get((by_id[i].product_id, wh.id), 0)
            take = min(have, remaining[i])
            if take:
                assign[i].append((wh.id, take))
                remaining[i] -= take
                avail[(by_id[i].product_id, wh.id)] = have - take
    if any(q > 0 for q in remaining.values()):
        return None
    return assign


def _reason(winner: Option, others: list[Option], info, lines) -> str:
    first = winner.warehouses[0]
    if winner.kind == "single":
        head = f"{first}: all lines in stock, zone {winner.zone}, {_money(winner.cost)}, arrives {_weekday(winner.promised)}"
    elif winner.kind == "split":
        head = (
            f"Split across {', '.join(winner.warehouses)}: {_money(winner.cost)} including the split penalty, "
            f"arrives {_weekday(winner.promised)}"
        )
    elif winner.kind == "wait":
        head = (
            f"{first}: wait {winner.wait_days} day(s) for inbound stock, then zone {winner.zone}, "
            f"{_money(winner.cost)} including waiting, arrives {_weekday(winner.promised)}"
        )
    else:
        head = f"{first}: most units in stock; the rest is backordered there (zone {winner.zone}, {_money(winner.cost)})"
    if others:
        alts = "; ".join(
            f"{o.kind} {'+'.join(o.warehouses)} {_money(o.cost)} arrives {_weekday(o.promised)}"
            for o in others[:3]
        )
        head += f" — beats {alts}"
    return head
