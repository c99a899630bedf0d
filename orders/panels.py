"""Order detail panels: higher apps add a section to the order page without orders importing them.

A panel is ``fn(request, order) -> str | None`` returning trusted HTML (usually ``render_to_string`` of the
app's own template) or ``None`` to show nothing. Apps register from ``AppConfig.ready``::

    from orders.panels import register_detail_panel
    register_detail_panel(order_cost_panel, key="billing.cost", position=20)

A panel that fails is logged and replaced by a short notice: the order page always renders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

log = logging.getLogger(__name__)

PanelFn = Callable[[Any, Any], "str | None"]


@dataclass(frozen=True)
class _Panel:
    key: str
    fn: PanelFn
    position: int


_panels: list[_Panel] = []


def register_detail_panel(fn: PanelFn, *, key: str, position: int = 50) -> PanelFn:
    """Register (or replace, by ``key``) a panel; lower ``position`` shows first."""
    _panels[:] = [p for p in _panels if p.key != key]
    _panels.append(_Panel(key, fn, position))
    _panels.sort(key=lambda p: (p.position, p.key))
    return fn


def detail_panels() -> list[str]:
    return [p.key for p in _panels]


def render_detail_panels(request, order) -> list[SafeString]:
    out = []
    for panel in _panels:
        try:
            html = panel.fn(request, order)
        except Exception:
            log.exception("order panel %s failed for order %s", panel.key, order.pk)
            html = format_html(
                '<div class="card muted" id="panel-{}">This section is unavailable.</div>', panel.key
            )
        if html:
            out.append(mark_safe(html))
    return out
