"""The customer self-service return portal: public pages (no login) at ``/returns/<token>/``.

Security: every lookup is scoped to the portal's merchant; a failed lookup answers the same sentence whatever
the reason (unknown number, wrong email or postal code), so the page never tells whether an order exists; the
lookups are rate-limited per client address and per order number in the shared cache; the order found is kept
in this browser's session only, and the pages show that order's lines and the returns opened from this
session — never anything else of the merchant's."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from fulfil.audit import Actor, audit_context
from warehouse.inbound import selectors, services
from warehouse.inbound.models import ReturnAuthorization

LOOKUP_FAILED = "We could not find a shipped order with that order number and email or postal code."
SESSION_TTL_S = 30 * 60
PHOTO_MAX_BYTES = 5 * 1024 * 1024


def _limits() -> tuple[int, int, int]:
    """(lookups per client address, lookups per order number, window in seconds)."""
    return (
        getattr(settings, "RETURN_PORTAL_LOOKUPS_PER_IP", 10),
        getattr(settings, "RETURN_PORTAL_LOOKUPS_PER_ORDER", 10),
        getattr(settings, "RETURN_PORTAL_LOOKUP_WINDOW_S", 600),
    )


def _hit(key: str, limit: int, window: int) -> bool:
    """Counts one attempt; True when over the limit."""
    cache.add(key, 0, timeout=window)
    try:
        n = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        n = 1
    return n > limit


def _rate_limited(request, token: str, number: str) -> bool:
    per_ip, per_order, window = _limits()
    ip = request.META.get("REMOTE_ADDR", "")
    over_ip = _hit(f"rp:{token}:ip:{ip}", per_ip, window)
    over_order = _hit(f"rp:{token}:order:{number.strip().lower()[:64]}", per_order, window)
    return over_ip or over_order


def _portal(token: str):
    portal = selectors.portal_get(token=token)
    if portal is None:
        raise Http404("No return portal here.")
    return portal


def _state(request, token: str) -> dict:
    state = request.session.get(f"return_portal:{token}") or {}
    if state and time.time() - state.get("at", 0) > SESSION_TTL_S:
        return {}
    return state


def _order(portal, state):
    from orders.models import Order

    if not state.get("order"):
        return None
    return Order.objects.for_merchant(portal.merchant_id).filter(pk=state["order"]).first()


def _actor(request) -> Actor:
    return Actor(user_id=None, label="customer (return portal)", source="portal")


@require_http_methods(["GET", "POST"])
def lookup(request, token: str):
    portal = _portal(token)
    error, status = "", 200
    form = {"number": "", "proof": ""}
    if request.method == "POST":
        form = {"number": request.POST.get("number", "")[:64], "proof": request.POST.get("proof", "")[:254]}
        if _rate_limited(request, token, form["number"]):
            error, status = "Too many attempts. Please try again in a few minutes.", 429
        else:
            order = selectors.portal_order_lookup(portal=portal, number=form["number"], proof=form["proof"])
            if order is not None:
                request.session[f"return_portal:{token}"] = {
                    "order": order.pk,
                    "at": time.time(),
                    "email": form["proof"] if "@" in form["proof"] else "",
                    "rmas": [],
                }
                return redirect("return_portal:order", token=token)
            error, status = LOOKUP_FAILED, 400
    response = TemplateResponse(
        request,
        "inbound/portal/lookup.html",
        {"portal": portal, "merchant": None, "shop": portal.merchant, "form": form, "error": error},
        status=status,
    )
    if status == 429:
        response["Retry-After"] = str(_limits()[2])
    return response


@require_http_methods(["GET", "POST"])
def order_page(request, token: str):
    portal = _portal(token)
    state = _state(request, token)
    order = _order(portal, state)
    if order is None:
        return redirect("return_portal:lookup", token=token)
    lines = selectors.portal_returnable_lines(order=order)
    shipped = order.status in services.RETURNABLE_ORDER_STATUSES
    window_open = selectors.portal_window_open(portal=portal, order=order)
    error, status = "", 200
    if request.method == "POST":
        chosen = []
        photo = request.FILES.get("photo")
        try:
            if photo is not None and (
                photo.size > PHOTO_MAX_BYTES or not (photo.content_type or "").startswith("image/")
            ):
                raise ValidationError({"photo": ["The photo must be an image of at most 5 MB."]})
            for row in lines:
                raw = request.POST.get(f"qty_{row['product'].pk}", "0").strip() or "0"
                qty = int(raw)
                if qty < 0:
                    raise ValueError
                if qty:
                    chosen.append((row["product"], qty))
            with audit_context(_actor(request)):
                rma = services.return_portal_open(
                    portal=portal,
                    order=order,
                    lines=chosen,
                    reason=request.POST.get("reason", ""),
                    comment=request.POST.get("comment", ""),
                    photo=photo,
                    customer_email=state.get("email", "") or order.ship_to_email or order.customer_email,
                    # scoped to the order this session proved: a key can only ever return its own RMA
                    request_key=f"portal:{order.pk}:{request.POST.get('request_key', '')[:40]}"
                    if request.POST.get("request_key")
                    else "",
                )
        except ValueError:
            error, status = "Choose how many of each item you are returning.", 400
        except ValidationError as exc:
            error = (
                " ".join(m for msgs in exc.message_dict.values() for m in msgs)
                if hasattr(exc, "message_dict")
                else " ".join(exc.messages)
            )
            status = 400
        except services.FloorError as exc:
            error, status = str(exc), 409
        else:
            state.setdefault("rmas", [])
            if rma.pk not in state["rmas"]:
                state["rmas"].append(rma.pk)
            request.session[f"return_portal:{token}"] = state
            return redirect("return_portal:done", token=token, rma_id=rma.pk)
    return TemplateResponse(
        request,
        "inbound/portal/order.html",
        {
            "portal": portal,
            "shop": portal.merchant,
            "order": order,
            "lines": lines,
            "shipped": shipped,
            "window_open": window_open,
            "reasons": portal.reasons(),
            "request_key": request.POST.get("request_key") or uuid.uuid4().hex,
            "form": request.POST,
            "error": error,
        },
        status=status,
    )


def done(request, token: str, rma_id: int):
    portal = _portal(token)
    state = _state(request, token)
    if rma_id not in (state.get("rmas") or []):
        raise Http404("Not found.")
    rma = (
        ReturnAuthorization.objects.for_merchant(portal.merchant_id)
        .select_related("warehouse", "order")
        .filter(pk=rma_id)
        .first()
    )
    if rma is None:
        raise Http404("Not found.")
    return TemplateResponse(
        request,
        "inbound/portal/done.html",
        {"portal": portal, "shop": portal.merchant, "rma": rma, "lines": rma.lines.select_related("product")},
    )
