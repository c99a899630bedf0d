"""Emails to merchants: the receiving report and QC failures (sent after commit)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from warehouse.inbound.models import QcInspection, ReceivingSession
from warehouse.inbound.selectors import receiving_report


def _merchant_emails(merchant_id: int) -> list[str]:
    from django.apps import apps

    membership = apps.get_model("accounts", "Membership")
    merchant = apps.get_model("accounts", "Merchant").objects.filter(pk=merchant_id).first()
    emails = []
    if merchant is not None:
        for attr in ("notification_email", "email", "contact_email"):
            value = getattr(merchant, attr, "")
            if value:
                emails.append(value)
                break
    if not emails:
        emails = list(
            membership.objects.filter(merchant_id=merchant_id)
            .order_by("pk")
            .values_list("user__email", flat=True)[:3]
        )
    return emails


def send_receiving_report(*, session_id: int) -> None:
    session = (
        ReceivingSession.objects.select_related("shipment", "shipment__warehouse")
        .filter(pk=session_id)
        .first()
    )
    if session is None or session.report_sent_at is not None:
        return
    report = receiving_report(shipment=session.shipment)
    body = render_to_string("inbound/email/receiving_report.txt", report)
    recipients = _merchant_emails(session.merchant_id)
    if recipients:
        send_mail(
            f"Received: inbound shipment {session.shipment.reference or session.shipment_id}",
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    ReceivingSession.objects.filter(pk=session_id).update(report_sent_at=timezone.now())


def send_qc_failure(*, inspection_id: int) -> None:
    inspection = QcInspection.objects.select_related("product", "checklist").filter(pk=inspection_id).first()
    if inspection is None:
        return
    recipients = _merchant_emails(inspection.merchant_id)
    if not recipients:
        return
    failed = [k for k, v in inspection.results.items() if not v]
    send_mail(
        f"Quality check failed: {inspection.product.sku}",
        (
            f"{inspection.failed} of {inspection.sampled} inspected units of {inspection.product.sku} "
            f"({inspection.product.name}) failed the '{inspection.checklist.name}' checks"
            f"{': ' + ', '.join(failed) if failed else ''}.\n"
            f"They are in quarantine and will not be sold. {inspection.notes}\n"
            f"Corrective action: {inspection.corrective_action or 'to be agreed with you'}\n"
        ),
        settings.DEFAULT_FROM_EMAIL,
        recipients,
    )


def send_return_opened(*, rma_id: int) -> None:
    """A customer opened a return on the portal: the merchant hears of it, the customer gets the RMA number
    and what to do (and the label link when one was bought)."""
    from warehouse.inbound.models import ReturnAuthorization, ReturnPortalSettings

    rma = (
        ReturnAuthorization.objects.select_related("order", "warehouse")
        .prefetch_related("lines__product")
        .filter(pk=rma_id)
        .first()
    )
    if rma is None:
        return
    portal = ReturnPortalSettings.objects.filter(merchant_id=rma.merchant_id).first()
    ctx = {"rma": rma, "lines": list(rma.lines.all()), "portal": portal}
    recipients = _merchant_emails(rma.merchant_id)
    if recipients:
        send_mail(
            f"Return {rma.number} opened by your customer (order {rma.order.number or rma.order_id})",
            render_to_string("inbound/email/return_opened_merchant.txt", ctx),
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    customer = rma.customer_email or rma.order.ship_to_email or rma.order.customer_email
    if customer:
        send_mail(
            f"Your return {rma.number}",
            render_to_string("inbound/email/return_opened_customer.txt", ctx),
            settings.DEFAULT_FROM_EMAIL,
            [customer],
        )
