"""Merchant and operator billing pages render with real data; the PDF is a PDF; the demo loader works."""

from datetime import date
from decimal import Decimal as D

import pytest

from billing import services
from billing.models import ChargeLine, Invoice, LineDispute, RateCard, VolumeCommitment
from tests.billing.test_charges_invoices import T0, order_charges

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(merchant_a, standard_card):
    services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0)
    return services.invoice_issue(
        merchant=merchant_a, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )


@pytest.mark.parametrize(
    "url",
    ["/app/billing/", "/app/billing/invoices/", "/app/billing/costs/", "/app/billing/volume/",
     "/app/billing/estimates/", "/app/billing/statements/", "/app/billing/payment-methods/"],
)  # fmt: skip
def test_merchant_pages_render(client_a, invoice, url):
    assert client_a.get(url).status_code == 200


def test_invoice_page_groups_and_explains_every_line(client_a, invoice):
    body = client_a.get(f"/app/billing/invoices/{invoice.pk}/").content.decode()
    assert invoice.number in body
    assert "Fulfillment" in body
    assert "Shipping markup 5% of carrier rate" in body
    assert "Order o1" in body  # what caused each line
    line = invoice.lines.get(kind="pick.unit")
    detail = client_a.get(f"/app/billing/lines/{line.pk}/").content.decode()
    assert "2 × 0.25 = <strong>0.50 USD</strong>" in detail


def test_invoice_pdf(client_a, invoice):
    response = client_a.get(f"/app/billing/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_invoice_api_lines_and_totals(api_a, invoice):
    data = api_a.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert (data["number"], data["total"], data["currency"], data["status"]) == (
        "INV-000001",
        "12.35",
        "USD",
        "open",
    )
    assert sum(D(x["amount"]) for x in data["lines"]) == D(data["subtotal"])
    assert data["pdf_url"].endswith(f"/api/v1/invoices/{invoice.pk}/pdf/")
    assert data["lines"][0]["source"]["label"] == "Order o1"
    listing = api_a.get("/api/v1/invoices/").json()
    assert listing["count"] == 1
    assert "lines" not in listing["results"][0]


def test_merchant_sets_cycle_commitment_and_disputes_a_line(client_a, merchant_a, invoice):
    assert client_a.post("/app/billing/settings/", {"cycle": "weekly", "autopay": "on"}).status_code == 302
    assert services.account_ensure(merchant=merchant_a).cycle == "weekly"
    r = client_a.post(
        "/app/billing/volume/", {"monthly_orders": 2500, "term": "monthly", "starts_on": "2025-03-01"}
    )
    assert r.status_code == 302
    assert VolumeCommitment.objects.for_merchant(merchant_a).get().monthly_orders == 2500
    line = invoice.lines.get(kind="packaging.small_box")
    r = client_a.post(f"/app/billing/lines/{line.pk}/dispute/", {"reason": "used my own box"})
    assert r.status_code == 302
    assert LineDispute.objects.get().reason == "used my own box"


def test_operator_desk_resolves_dispute_and_overrides_hold(client, manager, merchant_a, invoice, client_a):
    line = invoice.lines.get(kind="packaging.small_box")
    dispute = services.line_dispute_open(merchant=merchant_a, line=line, reason="wrong box")
    assert client_a.get("/app/billing/operator/").status_code == 404  # merchants cannot open the desk
    client.force_login(manager)
    assert client.get("/app/billing/operator/").status_code == 200
    client.post("/app/billing/operator/", {"action": "resolve", "dispute_id": dispute.pk, "accept": "on",
                                           "credit": "0.30", "resolution": "partly right"})  # fmt: skip
    assert ChargeLine.objects.get(corrects=line).amount == D("-0.30")
    client.post("/app/billing/operator/", {"action": "override", "merchant_id": merchant_a.pk, "allow": "on",
                                           "reason": "trusted", "credit_limit": "100", "terms_days": "30"})  # fmt: skip
    account = services.account_ensure(merchant=merchant_a)
    assert (account.credit_hold_override, account.credit_limit, account.terms_days) == (True, D("100.00"), 30)


def test_demo_loader_is_idempotent(db):
    from accounts import demo as accounts_demo
    from billing import demo

    accounts_demo.load()
    demo.load()
    demo.load()
    assert RateCard.objects.filter(kind="contract", merchant__slug="globex-beauty").count() == 1
    acme = Invoice.objects.filter(merchant__slug="acme-outdoor")
    assert acme.count() == 1
    assert acme.get().total > 0
