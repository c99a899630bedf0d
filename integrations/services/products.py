"""Products on the channel: fetch the listings, suggest and map them to catalog products, import them."""

from __future__ import annotations

from django.db import transaction

from fulfil.audit import audit_record
from integrations import ports
from integrations.base import (
    connector_for,
)
from integrations.models import (
    ChannelConnection,
    ChannelListing,
    ChannelPush,
)
from integrations.services.events import E, event_log
from integrations.services.push import push_schedule

# --- products -------------------------------------------------------------------------------------------


def products_fetch(*, connection: ChannelConnection, connector=None) -> dict:
    """Fetch the channel's products into listings and suggest our product for each (SKU, then barcode)."""
    connector = connector or connector_for(connection)
    products = connector.fetch_products()
    ours = list(ports.products_for(merchant=connection.merchant).only("pk", "sku", "barcode"))
    by_sku = {p.sku.lower(): p for p in ours}
    by_barcode = {p.barcode: p for p in ours if p.barcode}
    new = matched = 0
    with transaction.atomic():
        for item in products:
            listing, created = ChannelListing.objects.get_or_create(
                connection=connection,
                external_id=item.external_id,
                defaults={"merchant_id": connection.merchant_id, "name": item.name[:255]},
            )
            new += created
            listing.parent_id = item.parent_id
            listing.inventory_item_id = item.inventory_item_id
            listing.sku = item.sku[:100]
            listing.barcode = item.barcode[:32]
            listing.name = item.name[:255]
            listing.price = item.price
            if listing.product_id is None:
                mapped = connection.sku_map.get(item.sku)
                product = (by_sku.get((mapped or item.sku).lower()) if (mapped or item.sku) else None) or (
                    by_barcode.get(item.barcode) if item.barcode else None
                )
                if product is not None:
                    listing.product = product
            matched += listing.product_id is not None
            listing.save()
        event_log(
            connection=connection,
            direction="in",
            kind="fetch products",
            outcome=E.OK,
            message=f"{len(products)} products, {new} new, {matched} matched to the catalog",
        )
    return {"fetched": len(products), "new": new, "matched": matched}


def suggestions_for(listing: ChannelListing) -> list:
    """Our products that look like this listing: same SKU (any case), same barcode, or a SKU containing it."""
    qs = ports.products_for(merchant=listing.merchant_id)
    found = []
    if listing.sku:
        found += list(qs.filter(sku__iexact=listing.sku)[:3])
    if listing.barcode:
        found += [p for p in qs.filter(barcode=listing.barcode)[:3] if p not in found]
    if listing.sku and len(found) < 3:
        found += [p for p in qs.filter(sku__icontains=listing.sku[:12])[:3] if p not in found]
    return found[:3]


def listing_map(*, listing: ChannelListing, product, selected: bool | None = None) -> ChannelListing:
    """Map a channel listing to our product (``None`` unmaps); the SKU map used for orders follows."""
    conn = listing.connection
    with transaction.atomic():
        before = {"product": listing.product_id, "selected": listing.selected}
        listing.product = product
        if selected is not None:
            listing.selected = selected
        listing.save()
        if listing.sku:
            sku_map = dict(conn.sku_map)
            if product is not None and product.sku != listing.sku:
                sku_map[listing.sku] = product.sku
            else:
                sku_map.pop(listing.sku, None)
            if sku_map != conn.sku_map:
                ChannelConnection.objects.filter(pk=conn.pk).update(sku_map=sku_map)
                conn.sku_map = sku_map
        audit_record(
            obj_type="channel_listing",
            obj_id=listing.pk,
            action="channel.listing_mapped",
            merchant_id=listing.merchant_id,
            before=before,
            after={"product": listing.product_id, "selected": listing.selected},
        )
        if listing.product_id and listing.selected:
            push_schedule(
                connection=conn,
                kind=ChannelPush.Kind.INVENTORY,
                key=f"inventory:{listing.product_id}",
                payload={"product_id": listing.product_id},
            )
    return listing


def products_import(*, connection: ChannelConnection, listing_ids: list[int]) -> dict:
    """Create catalog products (draft, through inventory's service) for unmapped listings."""
    created = skipped = 0
    errors: list[str] = []
    listings = list(
        ChannelListing.objects.for_merchant(connection.merchant_id)
        .filter(connection=connection, pk__in=listing_ids, product__isnull=True)
        .order_by("pk")
    )
    for listing in listings:
        if not listing.sku:
            skipped += 1
            errors.append(f"{listing.name}: no SKU on the channel")
            continue
        try:
            with transaction.atomic():
                product = ports.product_create(
                    merchant=connection.merchant,
                    sku=listing.sku,
                    name=listing.name,
                    barcode=listing.barcode,
                    value=listing.price,
                )
                listing_map(listing=listing, product=product, selected=True)
        except Exception as exc:
            errors.append(f"{listing.sku}: {exc}")
            continue
        created += 1
    event_log(
        connection=connection,
        direction="in",
        kind="import products",
        outcome=E.OK if not errors else E.ERROR,
        message=f"{created} products created, {skipped} skipped" + (f"; {errors[0]}" if errors else ""),
    )
    return {"created": created, "skipped": skipped, "errors": errors}
