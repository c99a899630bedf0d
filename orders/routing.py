"""Routing: choose the warehouse(s) that fulfil an order, and say why. Pure code — the caller gathers the
lines, warehouses, stock and inbound figures, and stores the returned plan and explanation.

Options considered:
- **single**: one warehouse has every line in stock (near or farther away);
- **split**: several warehouses together have everything — each extra parcel costs ``split_penalty``;
- **wait**: one warehouse will have everything within ``max_wait_days`` — the earliest open inbound shipment
  (ASN) there whose expected date covers the shortfall (after the backorders already waiting in line), or,
  when no ASN covers it and the merchant set one, the default lead time; each day of waiting costs
  ``wait_cost_per_day``. No known inbound and no default lead time: waiting is not offered (and we say so);
- **backorder**: nothing complete now: the warehouse covering most units takes the order and the rest waits.

Rates: ``rates(requests)`` (from ``orders.rates`` providers, e.g. the carriers' live rates) prices a parcel
from a warehouse; whatever it cannot price comes from the zone table (``orders.zones``), and the explanation
says which source each figure came from.

Rules: hazmat lines only to certified warehouses, cold-chain lines only to cold storage. Expedited and
overnight orders weigh delivery days heavily (and prefer a warehouse that still makes today's cut-off).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
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
class Arrival:
    """Open inbound stock for one product at one warehouse: ``quantity`` units expected on ``expected``
    (``None``: the ASN has no date)."""

    expected: date | None
    quantity: int
    label: str = ""  # e.g. "ASN 12 (PO-7)"


@dataclass(frozen=True)
class RoutingSettings:
    allow_split: bool = True
    max_wait_days: int = 0
    split_penalty: Decimal = Decimal("3.00")
    wait_cost_per_day: Decimal = Decimal("2.00")
    preferred: tuple[str, ...] = ()
    default_lead_days: int = 0  # assumed restock time when no inbound shipment covers a shortfall (0 = none)


@dataclass(frozen=True)
class ParcelRate:
    amount: Decimal
    transit_days: int
    source: str  # live | cached | zone
    label: str  # "UPS Ground $7.10 (live rate)" / "$8.20 (zone 5 table estimate)"


# (warehouse id, parcel weight in grams) pairs -> a quote with .amount, .transit_days, .source, .label
RateFn = Callable[[list[tuple[int, int]]], dict]


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
    rate_label: str = ""


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


def _on_business_day(d: date) -> date:
    return d if d.weekday() < 5 else zones.add_business_days(d, 1)


class _Pricer:
    """Parcel prices for the plan: the rate providers' quotes where they have one, else the zone table.
    Asks ``rates`` in rounds (every missing pair of a round at once) and never twice for the same pair."""

    def __init__(self, rates: RateFn | None, info: dict, service: str):
        self.rates, self.info, self.service = rates, info, service
        self.quotes: dict[tuple[int, int], object] = {}
        self.asked: set[tuple[int, int]] = set()

    def ask(self, pairs: list[tuple[int, int]]) -> None:
        missing = [p for p in dict.fromkeys(pairs) if p not in self.asked]
        self.asked.update(missing)
        if self.rates is not None and missing:
            self.quotes.update(self.rates(missing) or {})

    def rate(self, wh_id: int, weight_g: int) -> ParcelRate:
        self.ask([(wh_id, weight_g)])
        z = self.info[wh_id]["zone"]
        q = self.quotes.get((wh_id, weight_g))
        if q is not None:
            transit = q.transit_days or zones.transit_days(zone_=z, service=self.service)
            return ParcelRate(q.amount, transit, q.source, q.label)
        amount = zones.rate(zone_=z, weight_g=weight_g, service=self.service)
        return ParcelRate(
            amount,
            zones.transit_days(zone_=z, service=self.service),
            "zone",
            f"{_money(amount)} (zone {z} table estimate)",
        )


def _wait_for(
    lines: list[LineNeed],
    wh: WarehouseInfo,
    stock: dict,
    inbound: dict,
    ahead: dict,
    today: date,
    default_lead_days: int,
) -> tuple[int | None, list[str]]:
    """Days until ``wh`` can fill every line from inbound stock, and why; ``None`` when it cannot be known.
    A line's shortfall counts the backorders already waiting there (they are filled first)."""
    days, notes = 0, []
    for line in lines:
        have = stock.get((line.product_id, wh.id), 0)
        if have >= line.quantity:
            continue
        missing = line.quantity - have
        queue = ahead.get((line.product_id, wh.id), 0)
        needed = missing + queue
        covered, total = None, 0
        dated = sorted(
            (a for a in inbound.get((line.product_id, wh.id), ()) if a.expected), key=lambda a: a.expected
        )
        for arrival in dated:
            total += arrival.quantity
            if total >= needed:
                covered = arrival
                break
        queued = f" after {queue} already backordered" if queue else ""
        if covered is not None:
            d = max(0, (covered.expected - today).days)
            notes.append(
                f"{line.sku}: {missing} missing{queued}, {covered.label or 'inbound'} expected "
                f"{_weekday(covered.expected)} covers it"
            )
        elif default_lead_days:
            d = default_lead_days
            known = f" (inbound known: {total})" if total else ""
            notes.append(
                f"{line.sku}: {missing} missing{queued}, no inbound shipment covers it{known} — assuming the "
                f"default lead time of {default_lead_days} day(s)"
            )
        else:
            known = f" (inbound known: {total})" if total else ""
            return None, [f"{line.sku}: {missing} missing{queued} and no inbound shipment covers it{known}"]
        days = max(days, d)
    return days, notes


def plan(
    *,
    lines: list[LineNeed],
    warehouses: list[WarehouseInfo],
    stock: dict[tuple[int, int], int],
    inbound: dict[tuple[int, int], list[Arrival]] | None = None,
    waiting_ahead: dict[tuple[int, int], int] | None = None,
    dest_postal: str,
    dest_country: str,
    service: str,
    settings: RoutingSettings,
    now: datetime,
    rates: RateFn | None = None,
) -> Plan:
    inbound = inbound or {}
    ahead = waiting_ahead or {}
    rank = {code: i for i, code in enumerate(settings.preferred)}
    candidates = []
    info: dict[int, dict] = {}
    weight = sum(line.weight_g * line.quantity for line in lines)
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
        local_now = now.astimezone(ZoneInfo(wh.timezone or "UTC"))
        ships = zones.ship_date(now=local_now, cutoff=wh.cutoff)
        info[wh.id] = {"wh": wh, "zone": z, "ships": ships, "today": local_now.date(), "excluded": excluded}

    pricer = _Pricer(rates, info, service)
    pricer.ask([(wh.id, weight) for wh in warehouses if not info[wh.id]["excluded"]])
    for wh in warehouses:
        i = info[wh.id]
        full_rate = pricer.rate(wh.id, weight) if not i["excluded"] else None
        if full_rate is None:
            amount = zones.rate(zone_=i["zone"], weight_g=weight, service=service)
            full_rate = ParcelRate(
                amount,
                zones.transit_days(zone_=i["zone"], service=service),
                "zone",
                f"{_money(amount)} (zone {i['zone']} table estimate)",
            )
        i["transit"] = full_rate.transit_days
        full = sum(1 for line in lines if stock.get((line.product_id, wh.id), 0) >= line.quantity)
        row = {
            "warehouse": wh.code,
            "name": wh.name,
            "eligible": not i["excluded"],
            "excluded_because": i["excluded"],
            "lines_in_stock": f"{full}/{len(lines)}",
            "stock": {line.sku: stock.get((line.product_id, wh.id), 0) for line in lines},
            "zone": i["zone"],
            "rate": str(full_rate.amount),
            "rate_source": full_rate.source,
            "rate_label": full_rate.label,
            "transit_days": full_rate.transit_days,
            "ships": i["ships"].isoformat(),
            "makes_cutoff": i["ships"] == i["today"],
            "promised": zones.add_business_days(i["ships"], full_rate.transit_days).isoformat(),
            "waiting": "",
        }
        candidates.append(row)
        i["row"] = row

    eligible = [wh for wh in warehouses if not info[wh.id]["excluded"]]
    if not lines:
        return Plan(kind="none", error="The order has no open lines.", explanation={"candidates": candidates})
    if not eligible:
        reasons = "; ".join(f"{c['warehouse']}: {c['excluded_because']}" for c in candidates) or "none set up"
        return Plan(
            kind="none",
            error=f"No warehouse may ship this order ({reasons}).",
            explanation={"candidates": candidates, "reason": "no eligible warehouse"},
        )

    def parcel(wh_id: int, line_ids: list[int]) -> tuple[Decimal, date, ParcelRate]:
        w = sum(line.weight_g * line.quantity for line in lines if line.line_id in line_ids)
        r = pricer.rate(wh_id, w)
        return r.amount, zones.add_business_days(info[wh_id]["ships"], r.transit_days), r

    options: list[Option] = []
    not_waiting: list[str] = []
    all_ids = [line.line_id for line in lines]
    for wh in eligible:
        complete = all(stock.get((line.product_id, wh.id), 0) >= line.quantity for line in lines)
        cost, promised, r = parcel(wh.id, all_ids)
        assign = {line.line_id: [(wh.id, line.quantity)] for line in lines}
        if complete:
            options.append(
                Option("single", assign, [wh.code], cost, info[wh.id]["zone"], promised, rate_label=r.label)
            )
        elif settings.max_wait_days:
            today = info[wh.id]["today"]
            wait, notes = _wait_for(lines, wh, stock, inbound, ahead, today, settings.default_lead_days)
            row = info[wh.id]["row"]
            if wait is None:
                row["waiting"] = "waiting not offered: " + "; ".join(notes)
                not_waiting.append(f"{wh.code} ({'; '.join(notes)})")
            elif wait > settings.max_wait_days:
                row["waiting"] = (
                    f"stock in {wait} day(s), more than the {settings.max_wait_days} allowed: "
                    + ("; ".join(notes))
                )
                not_waiting.append(f"{wh.code} (stock in {wait} days)")
            else:
                row["waiting"] = f"wait {wait} day(s): " + "; ".join(notes)
                ship = max(info[wh.id]["ships"], _on_business_day(today + timedelta(days=wait)))
                options.append(
                    Option(
                        "wait",
                        assign,
                        [wh.code],
                        cost + settings.wait_cost_per_day * wait,
                        info[wh.id]["zone"],
                        zones.add_business_days(ship, r.transit_days),
                        wait_days=wait,
                        note="; ".join(notes),
                        rate_label=r.label,
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
                # price every parcel of the split in one round
                pricer.ask(
                    [
                        (w, sum(ln.weight_g * ln.quantity for ln in lines if ln.line_id in ids))
                        for w, ids in by_wh.items()
                    ]
                )
                cost = Decimal("0")
                promised = date.min
                labels = []
                for wh_id, ids in by_wh.items():
                    c, p, r = parcel(wh_id, ids)
                    cost += c
                    promised = max(promised, p)
                    labels.append(f"{info[wh_id]['wh'].code} {r.label}")
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
                        rate_label=" + ".join(labels),
                    )
                )

    if not options:  # nothing complete: backorder where most units are

        def coverage(wh):
            units = sum(min(stock.get((ln.product_id, wh.id), 0), ln.quantity) for ln in lines)
            return (-units, parcel(wh.id, all_ids)[0], rank.get(wh.code, 99))

        best = min(eligible, key=coverage)
        cost, promised, r = parcel(best.id, all_ids)
        options.append(
            Option(
                "backorder",
                {line.line_id: [(best.id, line.quantity)] for line in lines},
                [best.code],
                cost,
                info[best.id]["zone"],
                promised,
                note="no warehouse (or combination) has everything; the shortfall waits for stock",
                rate_label=r.label,
            )
        )

    earliest = min(o.promised for o in options)
    day_value = DAY_VALUE.get(service, DAY_VALUE["standard"])
    for o in options:
        o.score = o.cost + day_value * (o.promised - earliest).days
    options.sort(key=lambda o: (o.score, o.promised, min(rank.get(c, 99) for c in o.warehouses)))
    winner = options[0]
    reason = _reason(winner, options[1:], info, lines)
    if not_waiting and winner.kind != "single":
        reason += ". Waiting not offered: " + "; ".join(not_waiting)
    winner_ids = []
    for parts in winner.assignments.values():
        for wh_id, _ in parts:
            if wh_id not in winner_ids:
                winner_ids.append(wh_id)
    sources = sorted({c["rate_source"] for c in candidates if c["eligible"]})
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
            "default_lead_days": settings.default_lead_days,
            "rate_sources": sources,
            "rate_label": winner.rate_label,
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
                    "rate": o.rate_label,
                }
                for o in options
            ],
        },
    )


def _split(lines, eligible, stock, info, rank) -> dict[int, list[tuple[int, int]]] | None:
    """Greedy cover: take the warehouse that has the most lines complete (cheapest first on ties), then the
    next for what is left; a line no single warehouse holds is split across warehouses by quantity."""
    remaining = {line.line_id: line.quantity for line in lines}
    # a working copy of the stock of these lines' products only (``stock`` may hold a whole batch's levels)
    avail = {
        (line.product_id, wh.id): stock[(line.product_id, wh.id)]
        for line in lines
        for wh in eligible
        if (line.product_id, wh.id) in stock
    }
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
        head = f"{first}: all lines in stock, zone {winner.zone}, {winner.rate_label}, arrives {_weekday(winner.promised)}"
    elif winner.kind == "split":
        head = (
            f"Split across {', '.join(winner.warehouses)}: {_money(winner.cost)} including the split penalty "
            f"({winner.rate_label}), arrives {_weekday(winner.promised)}"
        )
    elif winner.kind == "wait":
        head = (
            f"{first}: wait {winner.wait_days} day(s) for inbound stock ({winner.note}), then zone {winner.zone}, "
            f"{winner.rate_label}, {_money(winner.cost)} including waiting, arrives {_weekday(winner.promised)}"
        )
    else:
        head = (
            f"{first}: most units in stock; the rest is backordered there (zone {winner.zone}, "
            f"{winner.rate_label})"
        )
    if others:
        alts = "; ".join(
            f"{o.kind} {'+'.join(o.warehouses)} {_money(o.cost)} arrives {_weekday(o.promised)}"
            for o in others[:3]
        )
        head += f" — beats {alts}"
    return head
