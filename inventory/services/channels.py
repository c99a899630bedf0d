"""Channel allocation rules: how much of the available stock each sales channel may offer (``available_to_sell``
in selectors applies them). A rule with a product overrides the channel's default rule for that product.

Every change emits ``inventory.available_changed`` for the levels whose published figure it changes, so the
channel sync pushes the new figure, like any stock change."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from fulfil import outbox
from fulfil.audit import audit_record
from inventory.models import ChannelAllocationRule, KitComponent, Product, StockLevel

EV_AVAILABLE_CHANGED = "inventory.available_changed"
FIELDS = ("rule", "share_percent", "cap", "buffer", "show_zero_below")


def _affected_levels(merchant_id: int, product: Product | None) -> list[tuple[int, int]]:
    levels = StockLevel.objects.filter(merchant_id=merchant_id)
    if product is None:
        return sorted(set(levels.values_list("product_id", "warehouse_id")))
    pairs = set(levels.filter(product=product).values_list("product_id", "warehouse_id"))
    if product.is_kit:  # a kit's figure lives in its components' warehouses too
        comp_ids = list(KitComponent.objects.filter(kit=product).values_list("component_id", flat=True))
        pairs |= {
            (product.pk, w)
            for w in levels.filter(product_id__in=comp_ids).values_list("warehouse_id", flat=True)
        }
    return sorted(pairs)


def _emit_changed(merchant_id: int, product: Product | None) -> None:
    outbox.emit_many(
        [
            (
                EV_AVAILABLE_CHANGED,
                {"merchant_id": merchant_id, "product_id": pid, "warehouse_id": wid},
                merchant_id,
            )
            for pid, wid in _affected_levels(merchant_id, product)
        ]
    )


def channel_rule_save(
    *,
    merchant,
    channel: str,
    product: Product | None = None,
    rule: str = ChannelAllocationRule.Rule.ALL,
    share_percent: int = 100,
    cap: int = 0,
    buffer: int = 0,
    show_zero_below: int = 0,
) -> ChannelAllocationRule:
    """Creates or changes the rule of ``channel`` (for ``product``, or the channel's default when None)."""
    mid = merchant if isinstance(merchant, int) else merchant.pk
    channel = (channel or "").strip()
    errors: dict[str, list[str]] = {}
    if not channel:
        errors["channel"] = ["Name the channel (e.g. shopify or amazon:12)."]
    if rule not in ChannelAllocationRule.Rule.values:
        errors["rule"] = ["Choose all, a share or a cap."]
    if not 0 <= share_percent <= 100:
        errors["share_percent"] = ["A share is between 0 and 100 %."]
    for name, value in (("cap", cap), ("buffer", buffer), ("show_zero_below", show_zero_below)):
        if value < 0:
            errors[name] = ["Cannot be negative."]
    if product is not None and product.merchant_id != mid:
        errors["product"] = ["That product is not yours."]
    if errors:
        raise ValidationError(errors)
    values = {
        "rule": rule,
        "share_percent": share_percent,
        "cap": cap,
        "buffer": buffer,
        "show_zero_below": show_zero_below,
    }
    with transaction.atomic():
        existing = (
            ChannelAllocationRule.objects.select_for_update()
            .filter(merchant_id=mid, channel=channel, product=product)
            .first()
        )
        before = {f: getattr(existing, f) for f in FIELDS} if existing else None
        if existing is None:
            existing = ChannelAllocationRule.objects.create(
                merchant_id=mid, channel=channel, product=product, **values
            )
        else:
            for k, v in values.items():
                setattr(existing, k, v)
            existing.save(update_fields=list(values))
        audit_record(
            obj_type="channel_rule",
            obj_id=existing.pk,
            action="save",
            merchant_id=mid,
            before=before,
            after={"channel": channel, "sku": product.sku if product else None, **values},
        )
        _emit_changed(mid, product)
    return existing


def channel_rule_delete(*, merchant, channel: str, product: Product | None = None) -> bool:
    """Removes a rule (a product's own rule: the channel default applies again). True when one existed."""
    mid = merchant if isinstance(merchant, int) else merchant.pk
    with transaction.atomic():
        rule = ChannelAllocationRule.objects.filter(merchant_id=mid, channel=channel, product=product).first()
        if rule is None:
            return False
        audit_record(
            obj_type="channel_rule",
            obj_id=rule.pk,
            action="delete",
            merchant_id=mid,
            before={
                "channel": channel,
                "sku": product.sku if product else None,
                **{f: getattr(rule, f) for f in FIELDS},
            },
        )
        rule.delete()
        _emit_changed(mid, product)
    return True
