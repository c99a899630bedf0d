"""The inputs of routing that are not stock levels: parcel rates from the registered rate providers
(``orders.rates``, e.g. the carriers' live rates; the zone table for the rest), inbound arrival dates from
inventory's open ASNs and the backorders already waiting for them, and the merchant's routing settings.

``plan_order`` is what ``orders.services.processing.build_plan`` (live routing) and the what-if simulator
(``orders.reports.simulate``, with the stock, inbound and cached-only rates of the moment each order was
routed) both call, so they route the same way.
"""

from __future__ import annotations

from orders import rates, routing


def routing_settings(prefs, **overrides) -> routing.RoutingSettings:
    """The routing options of a merchant's ``OrderSettings`` (or anything with the same attributes)."""
    if isinstance(prefs, routing.RoutingSettings) and not overrides:
        return prefs
    values = {
        "allow_split": prefs.allow_split,
        "max_wait_days": prefs.max_wait_days,
        "split_penalty": prefs.split_penalty,
        "wait_cost_per_day": prefs.wait_cost_per_day,
        "preferred": tuple(getattr(prefs, "preferred_warehouses", None) or ()),
        "default_lead_days": getattr(prefs, "default_lead_time_days", 0) or 0,
    }
    values.update(overrides)
    return routing.RoutingSettings(**values)


def warehouse_info(w) -> routing.WarehouseInfo:
    return routing.WarehouseInfo(
        id=w.pk,
        code=w.code,
        name=w.name,
        postal_code=w.postal_code,
        country=w.country,
        hazmat_certified=w.hazmat_certified,
        cold_storage=w.cold_storage,
        cutoff=w.cutoff_time if not isinstance(w.cutoff_time, str) else None,
        timezone=w.timezone,
    )


def rate_function(*, order, warehouses, live: bool | str = True) -> routing.RateFn:
    """``(warehouse id, weight) pairs -> quotes`` through the registered providers for this order's
    destination and service. ``live``: ``True`` asks the carriers now, ``False`` cached quotes only (the
    simulator), ``"warm"`` cached quotes now and the missing routes asked after commit (the batch path)."""
    by_id = {w.pk: w for w in warehouses}

    def fn(pairs: list[tuple[int, int]]) -> dict:
        if not rates.rate_providers():
            return {}
        requests = {
            (wh_id, weight): rates.RateRequest(
                merchant_id=order.merchant_id,
                warehouse_id=wh_id,
                origin_postal=by_id[wh_id].postal_code or "",
                origin_country=by_id[wh_id].country or "US",
                dest_postal=order.ship_to_postal_code or "",
                dest_country=order.ship_to_country or "US",
                weight_g=weight,
                service=order.shipping_service or "standard",
                dest_city=order.ship_to_city or "",
                dest_state=order.ship_to_state or "",
                dest_street=order.ship_to_street1 or "",
            )
            for wh_id, weight in pairs
            if wh_id in by_id
        }
        if live == "warm":
            got = rates.quote_cached_then_warm(list(requests.values()))
        else:
            got = rates.quote(list(requests.values()), live=bool(live))
        return {pair: got[req] for pair, req in requests.items() if req in got}

    return fn


def line_needs(*, order, lines) -> list[routing.LineNeed]:
    """What routing needs of each open line with a product."""
    return [
        routing.LineNeed(
            line_id=line.pk,
            product_id=line.product_id,
            sku=line.sku,
            quantity=line.open_quantity,
            weight_g=line.product.weight_g if line.product_id else 0,
            hazmat=bool(line.product_id and line.product.hazmat),
            cold_chain=bool(line.product_id and line.product.temperature_max_c is not None)
            or order.requires_cold_chain,
        )
        for line in lines
        if line.open_quantity > 0 and line.product_id
    ]


def inbound_for(*, merchant_id: int, needs, warehouses, stock, hint) -> tuple[dict, dict]:
    """Arrivals (``routing.Arrival`` lists) and backorders waiting, per (product, warehouse) where a line is
    short and the level says something is inbound (``hint``: (product, warehouse) -> (units, _)). No query
    when nothing short has inbound stock."""
    from inventory import history

    pairs = {
        (n.product_id, w.pk)
        for n in needs
        for w in warehouses
        if stock.get((n.product_id, w.pk), 0) < n.quantity and (hint.get((n.product_id, w.pk)) or (0,))[0] > 0
    }
    if not pairs:
        return {}, {}
    products = {p for p, _ in pairs}
    whs = {w for _, w in pairs}
    found = history.inbound_arrivals(merchant_id=merchant_id, product_ids=products, warehouse_ids=whs)
    ahead = history.backorders_waiting(merchant_id=merchant_id, product_ids=products, warehouse_ids=whs)
    return as_arrivals(found), ahead


def as_arrivals(found: dict) -> dict[tuple[int, int], list[routing.Arrival]]:
    return {
        pair: [routing.Arrival(expected=a.expected, quantity=a.quantity, label=a.label) for a in arrivals]
        for pair, arrivals in found.items()
    }


def plan_order(
    *,
    order,
    needs: list[routing.LineNeed],
    warehouses: list,
    stock: dict,
    inbound_hint: dict,
    settings: routing.RoutingSettings,
    now,
    live_rates: bool | str | None = None,
    arrivals: dict | None = None,
    ahead: dict | None = None,
) -> routing.Plan:
    if live_rates is None:  # one order on its own: ask live; inside a batch (locks held): cached, warm later
        from orders.services import unit

        live_rates = "warm" if unit.current() is not None else True
    if arrivals is None:
        arrivals, ahead = {}, {}
        if settings.max_wait_days:
            arrivals, ahead = inbound_for(
                merchant_id=order.merchant_id,
                needs=needs,
                warehouses=warehouses,
                stock=stock,
                hint=inbound_hint,
            )
    return routing.plan(
        lines=needs,
        warehouses=[warehouse_info(w) for w in warehouses],
        stock=stock,
        inbound=arrivals,
        waiting_ahead=ahead or {},
        dest_postal=order.ship_to_postal_code,
        dest_country=order.ship_to_country,
        service=order.shipping_service,
        settings=settings,
        now=now,
        rates=rate_function(order=order, warehouses=warehouses, live=live_rates),
    )
