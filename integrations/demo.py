"""Demo data: a Shopify store for Acme, connected in test mode (no real shop behind it), with a few events so
the health page has something to show."""

from __future__ import annotations


def load() -> None:
    from accounts.models import Merchant
    from integrations.models import ChannelConnection, ChannelEvent

    acme = Merchant.objects.filter(slug="acme-outdoor").first()
    if acme is None:
        return
    conn, created = ChannelConnection.objects.get_or_create(
        merchant=acme,
        platform="shopify",
        account_id="acme-outdoor-demo.myshopify.com",
        defaults={
            "name": "Acme Outdoor (demo store)",
            "status": ChannelConnection.Status.TEST,
            "status_reason": "Demo connection: there is no real shop behind it. Connect your own store.",
            "shipping_map": {"Express": "expedited", "Next Day Air": "overnight"},
        },
    )
    if created:
        ChannelEvent.objects.create(
            merchant=acme,
            connection=conn,
            direction="in",
            kind="test",
            outcome="ok",
            message="Demo connection created in test mode",
        )
