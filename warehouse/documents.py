"""Printable documents rendered locally: ZPL and PDF shipping labels, packing slips, pick lists.
No external rendering service: ZPL is text for thermal printers; PDFs come from reportlab."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4, inch
from reportlab.pdfgen import canvas


def _address(order) -> list[str]:
    city = f"{order.ship_to_city}, {order.ship_to_state} {order.ship_to_postal_code}".strip(", ")
    return [
        x
        for x in [
            order.ship_to_name,
            order.ship_to_company,
            order.ship_to_street1,
            order.ship_to_street2,
            city,
            order.ship_to_country,
        ]
        if x
    ]


def label_zpl(*, order, warehouse, shipment=None, parcel_no: int = 1, parcels: int = 1) -> str:
    """A 4×6 in label in ZPL II (203 dpi)."""
    tracking = getattr(shipment, "tracking_number", "") or "NO-TRACKING"
    carrier = (getattr(shipment, "carrier", "") or "").upper()
    service = getattr(shipment, "service", "") or order.shipping_service
    lines = ["^XA", "^CI28", "^PW812", "^LL1218"]
    y = 40
    for text in [f"FROM: {warehouse.name}", *warehouse.address_lines]:
        lines.append(f"^FO40,{y}^A0N,28,28^FD{_zpl(text)}^FS")
        y += 34
    y += 30
    lines.append(f"^FO40,{y}^A0N,34,34^FDSHIP TO:^FS")
    y += 44
    for text in _address(order):
        lines.append(f"^FO60,{y}^A0N,44,44^FD{_zpl(text)}^FS")
        y += 52
    y += 30
    lines.append(f"^FO40,{y}^GB732,4,4^FS")
    y += 24
    lines.append(f"^FO40,{y}^A0N,40,40^FD{_zpl(carrier)} {_zpl(service)}^FS")
    y += 60
    lines.append(f"^FO60,{y}^BY3^BCN,180,Y,N,N^FD{_zpl(tracking)}^FS")
    y += 260
    lines.append(
        f"^FO40,{y}^A0N,30,30^FDOrder {_zpl(order.number or str(order.pk))}  Parcel {parcel_no}/{parcels}^FS"
    )
    lines.append("^XZ")
    return "\n".join(lines) + "\n"


def _zpl(text: str) -> str:
    return str(text).replace("^", " ").replace("~", " ")


def label_pdf(*, order, warehouse, shipment=None) -> bytes:
    from reportlab.graphics.barcode import code128

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(4 * inch, 6 * inch))
    y = 6 * inch - 24
    c.setFont("Helvetica", 8)
    for text in [f"FROM: {warehouse.name}", *warehouse.address_lines]:
        c.drawString(14, y, text)
        y -= 10
    y -= 14
    c.setFont("Helvetica-Bold", 10)
    c.drawString(14, y, "SHIP TO:")
    y -= 16
    c.setFont("Helvetica", 12)
    for text in _address(order):
        c.drawString(24, y, text)
        y -= 15
    tracking = getattr(shipment, "tracking_number", "") or "NO-TRACKING"
    y -= 20
    c.setFont("Helvetica-Bold", 11)
    c.drawString(
        14, y, f"{(getattr(shipment, 'carrier', '') or '').upper()} {getattr(shipment, 'service', '') or ''}"
    )
    barcode = code128.Code128(tracking, barHeight=60, barWidth=1.1)
    barcode.drawOn(c, 14, y - 80)
    c.setFont("Helvetica", 9)
    c.drawString(14, y - 94, tracking)
    c.drawString(14, 16, f"Order {order.number or order.pk}")
    c.showPage()
    c.save()
    return buf.getvalue()


def packing_slip_pdf(*, order, lines, warehouse, instructions: list[str] | None = None) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    _, h = A4
    y = h - 60
    c.setFont("Helvetica-Bold", 16)
    c.drawString(50, y, f"Packing slip — order {order.number or order.pk}")
    y -= 24
    c.setFont("Helvetica", 10)
    for text in _address(order):
        c.drawString(50, y, text)
        y -= 13
    y -= 16
    c.setFont("Helvetica-Bold", 10)
    c.drawString(50, y, "SKU")
    c.drawString(180, y, "Item")
    c.drawString(480, y, "Qty")
    c.setFont("Helvetica", 10)
    for line in lines:
        y -= 16
        c.drawString(50, y, line.sku)
        c.drawString(180, y, (line.name or "")[:55])
        c.drawString(480, y, str(line.quantity))
    if order.gift_message:
        y -= 30
        c.setFont("Helvetica-Oblique", 11)
        c.drawString(50, y, f"Gift message: {order.gift_message[:90]}")
    for text in instructions or []:
        y -= 16
        c.setFont("Helvetica", 9)
        c.drawString(50, y, text[:110])
    c.setFont("Helvetica", 8)
    c.drawString(50, 30, f"Shipped from {warehouse.name}")
    c.showPage()
    c.save()
    return buf.getvalue()


def pick_list_pdf(*, batch, tasks) -> bytes:
    """The paper pick list: the route, in walk order, with the tote for each line."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    _, h = A4
    y = h - 50
    c.setFont("Helvetica-Bold", 15)
    c.drawString(40, y, f"Pick list {batch.number} — {len(tasks)} lines, route {batch.route_length_m:.0f} m")
    y -= 26
    c.setFont("Helvetica-Bold", 10)
    for x, head in ((40, "#"), (65, "Location"), (170, "SKU"), (280, "Item"), (450, "Qty"), (490, "Tote")):
        c.drawString(x, y, head)
    c.setFont("Helvetica", 10)
    for t in tasks:
        y -= 16
        if y < 50:
            c.showPage()
            y = h - 50
            c.setFont("Helvetica", 10)
        flags = (" FRAGILE" if t.product.fragile else "") + (" HAZMAT" if t.product.hazmat else "")
        for x, val in (
            (40, str(t.sequence)),
            (65, t.location.code),
            (170, t.product.sku),
            (280, (t.product.name[:28] + flags)),
            (450, str(t.quantity)),
            (490, t.batch_order.tote),
        ):
            c.drawString(x, y, val)
    c.showPage()
    c.save()
    return buf.getvalue()
