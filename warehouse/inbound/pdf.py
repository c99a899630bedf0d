"""The printable count sheet (reportlab): location, SKU, name, a blank box to write the count — no
expected quantities (counts are blind)."""

from __future__ import annotations

import io

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle


def count_sheet_pdf(counts) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm)
    styles = getSampleStyleSheet()
    rows = [["#", "Location", "SKU", "Product", "Reason", "Counted", "Initials"]]
    for c in counts:
        rows.append(
            [str(c.pk), c.location.code, c.product.sku, c.product.name[:40], c.get_reason_display(), "", ""]
        )
    table = Table(
        rows, colWidths=[12 * mm, 32 * mm, 32 * mm, 56 * mm, 26 * mm, 18 * mm, 16 * mm], repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.whitesmoke]),
                ("BOTTOMPADDING", (0, 1), (-1, -1), 8),
            ]
        )
    )
    story = [
        Paragraph("Cycle count sheet", styles["Title"]),
        Paragraph(
            f"Printed {timezone.now():%Y-%m-%d %H:%M} UTC · {len(rows) - 1} counts · count every unit of the SKU in "
            "the location, all lots; write the number, never a guess. Expected quantities are not shown.",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
        table,
    ]
    doc.build(story)
    return buf.getvalue()
