"""Staff scoping: operator staff act only in the warehouses they are assigned to.

The rule itself is ``User.works_in(code)`` (accounts): associates and managers work in their
``warehouse_codes``, operator admins and superusers everywhere, merchants' people nowhere. This module is
the one place the warehouse screens and staff API apply it:

- ``staff_warehouses(user)`` — the warehouses a user may pick (pickers, empty states);
- ``staff_scope(qs, user)`` — a list of floor objects narrowed to the user's warehouses;
- ``require_warehouse(user, warehouse)`` — a single object: ``PermissionDenied`` (403) unless the user
  works there; views call it right after fetching the object and before any change.

``inventory`` cannot import this module (layers), so its staff receive endpoint calls ``works_in`` itself.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from inventory.models import Warehouse

NO_ASSIGNMENT = "You are not assigned to a warehouse yet — ask your manager to assign you a warehouse."


def staff_warehouses(user) -> QuerySet[Warehouse]:
    """Active warehouses ``user`` works in, by code (all of them for operator admins)."""
    qs = Warehouse.objects.filter(is_active=True).order_by("code")
    if not getattr(user, "is_operator", False):
        return qs.none()
    if user.works_everywhere:
        return qs
    return qs.filter(code__in=list(user.warehouse_codes or []))


def staff_scope(qs: QuerySet, user, *, field: str = "warehouse") -> QuerySet:
    """``qs`` narrowed to rows whose ``field`` (a Warehouse FK) is one the user works in."""
    if not getattr(user, "is_operator", False):
        return qs.none()
    if user.works_everywhere:
        return qs
    return qs.filter(**{f"{field}__code__in": list(user.warehouse_codes or [])})


def require_warehouse(user, warehouse: Warehouse) -> Warehouse:
    """``warehouse`` when ``user`` works in it; else PermissionDenied (a 403 page or API 403)."""
    if not (getattr(user, "is_operator", False) and user.works_in(warehouse.code)):
        raise PermissionDenied(f"You are not assigned to warehouse {warehouse.code}.")
    return warehouse


def pick_warehouse(request, *, outbound: bool = False) -> Warehouse | None:
    """The floor's current warehouse: ``?wh=``/``wh`` posted, else the one the session remembers, else the
    user's first. An explicit code the user does not work in is a 403; None when they work nowhere."""
    qs = staff_warehouses(request.user)
    if outbound:
        qs = qs.filter(owner_merchant__isnull=True)
    asked = request.GET.get("wh") or request.POST.get("wh")
    if asked:
        wh = Warehouse.objects.filter(code=asked).first()
        if wh is not None:
            require_warehouse(request.user, wh)
        wh = qs.filter(code=asked).first()
    else:
        code = request.session.get("warehouse_code")
        wh = qs.filter(code=code).first() if code else None
    wh = wh or qs.first()
    if wh is not None:
        request.session["warehouse_code"] = wh.code
    return wh


def operator_required(view):
    """Warehouse screens: anonymous users go to the login page, merchants get the branded 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_operator:
            raise PermissionDenied("Warehouse screens are for warehouse staff.")
        return view(request, *args, **kwargs)

    return wrapped
