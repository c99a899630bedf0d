"""The order list's rows, rendered in Python: 50 rows × a dozen cells is the hot path of the order book."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from orders.models import Channel, OrderStatus, ShippingService

register = template.Library()
CHANNELS = dict(Channel.choices)
STATUSES = dict(OrderStatus.choices)
SERVICES = dict(ShippingService.choices)
OK = {"released", "shipped", "delivered"}


def _row(o):
    return (
        o.pk,
        o.number,
        o.pk,
        o.number,
        format_html(' <span class="badge">cut-off</span>') if o.same_day_cutoff else "",
        CHANNELS.get(o.channel, o.channel),
        format_html(' <small class="muted">{}</small>', o.channel_account) if o.channel_account else "",
        "ok" if o.status in OK else "",
        STATUSES.get(o.status, o.status),
        format_html(' <small class="muted">{}</small>', o.exception_reason) if o.exception_reason else "",
        o.customer_name,
        o.customer_email,
        f"{o.ship_to_city} {o.ship_to_state} {o.ship_to_country}",
        SERVICES.get(o.shipping_service, o.shipping_service),
        f"{o.total:.2f} {o.currency}",
        localtime(o.created_at).strftime("%Y-%m-%d %H:%M"),
    )


@register.simple_tag
def order_rows(rows):
    return format_html_join(
        "\n",
        '<tr><td><input type="checkbox" name="ids" value="{}" aria-label="Select {}"></td>'
        '<td><a href="/app/orders/{}/">{}</a>{}</td>'
        '<td><span class="badge">{}</span>{}</td>'
        '<td><span class="badge {}">{}</span>{}</td>'
        '<td>{}<br><small class="muted">{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (_row(o) for o in rows),
    )
