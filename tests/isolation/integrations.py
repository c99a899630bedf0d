"""Sales channels: a connection, its listings and dead letters are the owner's alone."""

from integrations.models import ChannelConnection, ChannelEvent, ChannelListing, DeadLetter, PrivacyRequest
from tests.isolation import Case


def _connection(merchant):
    conn = ChannelConnection.objects.create(
        merchant=merchant,
        platform="woocommerce",
        account_id=f"https://iso-{merchant.slug}.example.com",
        name=f"Iso store {merchant.slug}",
        status="active",
    )
    ChannelEvent.objects.create(
        merchant=merchant,
        connection=conn,
        direction="in",
        kind="poll orders",
        outcome="ok",
        message=f"iso-event-{merchant.slug}",
    )
    return conn


def _listing(merchant):
    conn = _connection(merchant)
    return ChannelListing.objects.create(
        merchant=merchant,
        connection=conn,
        external_id="1",
        sku=f"ISO-SKU-{merchant.slug}",
        name="Iso listing",
    )


def _dead_letter(merchant):
    conn = _connection(merchant)
    return DeadLetter.objects.create(
        merchant=merchant, connection=conn, summary=f"iso-dead-{merchant.slug}", error="boom"
    )


def _privacy_request(merchant):
    conn = _connection(merchant)
    return PrivacyRequest.objects.create(
        merchant=merchant,
        connection=conn,
        platform=conn.platform,
        kind="data_request",
        customer_email=f"iso-privacy-{merchant.slug}@mail.example.com",
        export={"orders": [], "email": f"iso-privacy-{merchant.slug}@mail.example.com"},
    )


CASES = [
    Case(
        name="channel connection",
        make=_connection,
        marker=lambda c: c.name,
        html_lists=["/app/integrations/"],
        html_detail=lambda c: f"/app/integrations/{c.pk}/",
        api_lists=["/api/v1/channels/"],
        api_detail=lambda c: f"/api/v1/channels/{c.pk}/",
        api_writes=[
            ("post", lambda c: f"/api/v1/channels/{c.pk}/test/", {}),
            ("post", lambda c: f"/api/v1/channels/{c.pk}/sync/", {}),
            ("post", lambda c: f"/app/integrations/{c.pk}/test/", {}),
            ("post", lambda c: f"/app/integrations/{c.pk}/sync/", {}),
            ("post", lambda c: f"/app/integrations/{c.pk}/disconnect/", {}),
            ("post", lambda c: f"/app/integrations/{c.pk}/products/fetch/", {}),
        ],
    ),
    Case(
        name="channel health",
        make=_connection,
        marker=lambda c: f"iso-event-{c.merchant.slug}",
        html_detail=lambda c: f"/app/integrations/{c.pk}/health/",
    ),
    Case(
        name="channel listing",
        make=_listing,
        marker=lambda lst: lst.sku,
        html_detail=lambda lst: f"/app/integrations/{lst.connection_id}/products/",
        api_writes=[
            ("post", lambda lst: f"/app/integrations/{lst.connection_id}/products/{lst.pk}/map/", {})
        ],
    ),
    Case(
        name="channel dead letter",
        make=_dead_letter,
        marker=lambda d: d.summary,
        html_detail=lambda d: f"/app/integrations/{d.connection_id}/health/",
        api_writes=[("post", lambda d: f"/app/integrations/{d.connection_id}/dead-letters/{d.pk}/", {})],
    ),
    Case(
        name="channel privacy request",
        make=_privacy_request,
        marker=lambda r: r.customer_email,
        html_detail=lambda r: f"/app/integrations/{r.connection_id}/privacy/",
        api_writes=[("get", lambda r: f"/app/integrations/{r.connection_id}/privacy/{r.pk}/export/", {})],
    ),
]
