"""The invoice PDF (reportlab): header, period, grouped summary, every line, totals."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing import selectors


def invoice_pdf(invoice) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=letter, title=f"Invoice {invoice.number}", leftMargin=0.6 * inch,
                            rightMargin=0.6 * inch, topMargin=0.6 * inch, bottomMargin=0.6 * inch)  # fmt: skip
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    m = invoice.merchant
    story = [
        Paragraph(f"Fulfil — Invoice {invoice.number}", styles["Title"]),
        Paragraph(f"{m.name}<br/>{m.street1} {m.city} {m.state} {m.postal_code}", styles["BodyText"]),
        Paragraph(
            f"Period {invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d} (exclusive) · issued "
            f"{invoice.issued_at:%Y-%m-%d} · due {invoice.due_on:%Y-%m-%d} · status {invoice.get_status_display()}",
            styles["BodyText"],
        ),
        Spacer(1, 10),
        Paragraph("Summary", styles["Heading2"]),
    ]
    summary = [["Category", "Charge", "Qty", "Unit price", "Amount", "Tax"]]
    for r in selectors.invoice_summary_rows(invoice):
        summary.append([r["category"], Paragraph(r["description"], small), f"{r['quantity'].normalize():f}",
                        f"{r['unit_price']:.4f}", f"{r['amount']:.2f}", f"{r['tax']:.2f}"])  # fmt: skip
    summary += [
        ["", "Subtotal", "", "", f"{invoice.subtotal:.2f}", ""],
        ["", "Tax", "", "", f"{invoice.tax:.2f}", ""],
        ["", f"Total ({invoice.currency})", "", "", f"{invoice.total:.2f}", ""],
        ["", "Paid", "", "", f"{invoice.amount_paid:.2f}", ""],
        ["", "Balance due", "", "", f"{invoice.balance:.2f}", ""],
    ]
    table = Table(summary, colWidths=[0.9 * inch, 3.3 * inch, 0.6 * inch, 0.9 * inch, 0.8 * inch, 0.6 * inch])
    table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 8), ("GRID", (0, 0), (-1, -6), 0.25, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                               ("ALIGN", (2, 0), (-1, -1), "RIGHT")]))  # fmt: skip
    story += [table, Spacer(1, 12), Paragraph("Every line", styles["Heading2"])]
    rows = [["#", "Date", "Charge", "Caused by", "Qty", "Amount"]]
    for line in invoice.lines.all().order_by("occurred_at", "pk"):
        rows.append([str(line.pk), f"{line.occurred_at:%Y-%m-%d}", Paragraph(line.description, small),
                     Paragraph(line.source_label, small), f"{line.quantity.normalize():f}", f"{line.amount:.2f}"])  # fmt: skip
    lines = Table(rows, colWidths=[0.5 * inch, 0.8 * inch, 2.6 * inch, 2.0 * inch, 0.6 * inch, 0.7 * inch],
                  repeatRows=1)  # fmt: skip
    lines.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 7), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("ALIGN", (4, 0), (-1, -1), "RIGHT")]))  # fmt: skip
    story.append(lines)
    doc.build(story)
    return buf.getvalue()
