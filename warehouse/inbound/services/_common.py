"""What the inbound services share: the floor's refusal (``FloorError``) and small helpers."""

from __future__ import annotations

from django.db.models import Sum

from inventory.models import StockQuant


class FloorError(Exception):
    """An action the floor cannot do as asked; the message is shown to the user (HTTP 409)."""


def _mid(merchant) -> int:
    return merchant if isinstance(merchant, int) else merchant.pk


def _location_total(location_id: int, product_id: int) -> int:
    return (
        StockQuant.objects.filter(location_id=location_id, product_id=product_id).aggregate(
            s=Sum("quantity")
        )["s"]
        or 0
    )
