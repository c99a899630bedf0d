"""Labels: buying one per parcel (never twice; failover to the next account or carrier), storing the
file, and voiding a bought label."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record

from .. import breaker, rules
from ..base import Address, Carrier, Label, Parcel, Rate, ShipOptions
from ..exceptions import (
    LabelPurchaseFailed,
    NoRateAvailable,
    ProviderError,
    RejectedProviderError,
    RetryableProviderError,
    ShipmentStateError,
)
from ..models import CarrierAccount, RateQuote, Shipment
from ..registry import AccountConfig, ConnectorFactory, connector_for
from ._common import MAX_ATTEMPTS, _as_address, _call_with_retries, _carrier_name, _label_options, _short
from .rates import _default_warehouse, rates_shop

log = logging.getLogger(__name__)

MAX_BUY_CANDIDATES = 3
BUYING_STALE_AFTER = timedelta(minutes=2)


RETURN_KEY_PREFIX = "return:"  # idempotency keys of prepaid return labels start with it


def shipment_buy_label(
    *,
    merchant,
    order,
    parcel: Parcel | None,
    rate: Rate | None = None,
    options: ShipOptions | None = None,
    from_warehouse=None,
    service_level: str | None = None,
    idempotency_key: str = "",
    connectors: ConnectorFactory | None = None,
    return_to_warehouse=None,
) -> Shipment:
    """Buy the label for one packed parcel of ``order``: the given ``rate``, or the best rate under the
    merchant's rule, failing over to the next account or carrier when a purchase fails.

    Never buys twice: our ``Shipment`` row (unique per merchant and idempotency key) is written first; a
    repeat call returns the bought shipment; a crashed attempt is recovered by asking the provider whether
    the label exists before buying anything else (each EasyPost shipment can be bought only once)."""
    factory = connectors or connector_for
    if parcel is None:
        parcel = _parcel_for_order(order)
    if return_to_warehouse is not None:  # a prepaid return label: customer -> warehouse, standard service
        key = idempotency_key or f"{RETURN_KEY_PREFIX}{order.pk}:{parcel.reference or 'parcel-1'}"
        level = "standard"
        to = _as_address(return_to_warehouse)
        from_warehouse = _as_address(order)
    else:
        key = idempotency_key or f"order:{order.pk}:{parcel.reference or 'parcel-1'}"
        level = service_level or getattr(order, "shipping_service", "") or "standard"
        to = _as_address(order)
    options = options or ShipOptions(reference=str(getattr(order, "number", "") or ""))
    shipment, recovering = _shipment_claim(
        merchant=merchant, order=order, key=key, parcel=parcel, options=options, level=level, to=to
    )
    if shipment.status == Shipment.Status.PURCHASED or (shipment.has_label and shipment.purchased_at):
        return shipment

    if recovering and shipment.provider_shipment_id and shipment.account_id:
        account = CarrierAccount.objects.get(pk=shipment.account_id)
        connector = factory(AccountConfig.of(account))
        label = connector.retrieve_label(provider_shipment_id=shipment.provider_shipment_id)
        if label is not None:
            return _shipment_finish(shipment=shipment, label=label, account=account, chosen=None, reason="")

    origin = from_warehouse if from_warehouse is not None else None
    if rate is not None:
        account = CarrierAccount.objects.get(pk=rate.account_id)
        price = account.price_for(rate.amount)
        candidates = [rules.RankedRate(rate=rate, price=price, total=price, account_name=account.name)]
        reason = f"chosen by hand: {_carrier_name(rate.carrier)} {rate.service}"
        shop_id = ""
    else:
        try:
            result = rates_shop(
                merchant=merchant,
                parcel=parcel,
                to_address=to,
                from_warehouse=origin if origin is not None else _default_warehouse(merchant),
                service_level=level,
                options=options,
                connectors=factory,
            )
        except NoRateAvailable as exc:
            _shipment_fail(shipment=shipment, message=str(exc))
            raise
        candidates, reason, shop_id = result.ranked, result.reason, result.shop_id
        Shipment.objects.filter(pk=shipment.pk).update(
            status=Shipment.Status.RATED,
            candidates=[c.as_dict() for c in candidates[:10]],
            chosen_reason=reason[:500],
        )
        RateQuote.objects.filter(shop_id=shop_id).update(shipment=shipment)

    failures: list[str] = []
    accounts = {
        a.pk: a for a in CarrierAccount.objects.filter(pk__in={c.rate.account_id for c in candidates})
    }
    failed_accounts: set[int] = set()
    tried = 0
    for candidate in candidates:
        account = accounts[candidate.rate.account_id]
        if account.pk in failed_accounts:
            continue
        if tried >= MAX_BUY_CANDIDATES:
            break
        index, tried = tried, tried + 1
        if index and not breaker.allow(account.pk):
            failed_accounts.add(account.pk)
            failures.append(f"{_carrier_name(account.carrier)} paused after repeated failures")
            continue
        why = reason if index == 0 else f"{reason}; failed over after: {', '.join(failures)}"
        _shipment_mark_buying(shipment=shipment, candidate=candidate, account=account, reason=why)
        connector = factory(AccountConfig.of(account))
        buy_options = _label_options(account, options)
        try:
            label = _buy_once(connector, candidate.rate, buy_options, account.timeout_seconds)
        except RejectedProviderError as exc:
            breaker.record_success(account.pk)
            failures.append(f"{_carrier_name(account.carrier)} {_short(exc)}")
            if exc.status in (401, 402, 403):  # the account itself cannot buy: skip its other rates
                failed_accounts.add(account.pk)
            continue
        except RetryableProviderError as exc:
            breaker.record_failure(account.pk)
            # The purchase may have gone through before the error: ask before buying anywhere else.
            try:
                label = connector.retrieve_label(provider_shipment_id=candidate.rate.provider_shipment_id)
            except ProviderError:
                message = f"{_carrier_name(account.carrier)} {_short(exc)}; label state unknown, retry later"
                Shipment.objects.filter(pk=shipment.pk).update(error=message[:1000])
                raise LabelPurchaseFailed([message]) from exc
            if label is None:
                failures.append(f"{_carrier_name(account.carrier)} {_short(exc)}")
                failed_accounts.add(account.pk)
                continue
        breaker.record_success(account.pk)
        return _shipment_finish(shipment=shipment, label=label, account=account, chosen=candidate, reason=why)
    _shipment_fail(shipment=shipment, message=f"label not bought: {', '.join(failures)}")
    raise LabelPurchaseFailed(failures)


def _parcel_for_order(order) -> Parcel:
    """A parcel estimated from the order's products (for return labels and callers without a scale)."""
    weight = 0
    for line in order.lines.select_related("product"):
        product = getattr(line, "product", None)
        weight += line.quantity * (getattr(product, "weight_g", 0) or 0)
    return Parcel(weight_g=weight or 500, reference="parcel-1")


def _buy_once(connector: Carrier, rate: Rate, options: ShipOptions, timeout) -> Label:
    deadline = time.monotonic() + float(timeout) * MAX_ATTEMPTS

    def attempt() -> Label:
        try:
            return connector.buy(rate=rate, options=options)
        except RetryableProviderError:
            existing = connector.retrieve_label(provider_shipment_id=rate.provider_shipment_id)
            if existing is not None:
                return existing
            raise

    return _call_with_retries(attempt, deadline=deadline)


def _shipment_claim(*, merchant, order, key, parcel: Parcel, options: ShipOptions, level: str, to: Address):
    """Our record first: get or create the shipment row for this idempotency key and mark the attempt."""
    defaults = {
        "order": order,
        "service_level": level,
        "weight_g": parcel.weight_g,
        "length_mm": parcel.length_mm,
        "width_mm": parcel.width_mm,
        "height_mm": parcel.height_mm,
        "hazmat": parcel.hazmat,
        "lithium": parcel.lithium,
        "to_address": to.as_dict(),
        "signature": options.signature,
        "insurance_amount": options.insurance_amount,
        "insurance_cost": rules.insurance_cost(options.insurance_amount),
    }
    for _ in range(2):
        try:
            with transaction.atomic():
                shipment, created = Shipment.objects.select_for_update().get_or_create(
                    merchant=merchant, idempotency_key=key, defaults=defaults
                )
                if created:
                    audit_record(
                        obj_type="carriers.Shipment",
                        obj_id=shipment.pk,
                        action="created",
                        merchant_id=merchant.pk,
                        after={"order": order.pk, "idempotency_key": key},
                    )
                    return shipment, False
                if shipment.purchased_at and shipment.status != Shipment.Status.FAILED:
                    return shipment, False
                if shipment.status == Shipment.Status.BUYING:
                    if timezone.now() - shipment.updated_at < BUYING_STALE_AFTER:
                        raise ShipmentStateError("a label purchase for this parcel is already in progress")
                    return shipment, True
                if shipment.status == Shipment.Status.VOIDED:
                    raise ShipmentStateError("this parcel's label was voided; use a new idempotency key")
                return shipment, False
        except IntegrityError:
            continue
    raise ShipmentStateError("could not claim the shipment record; retry")


def _shipment_mark_buying(
    *, shipment: Shipment, candidate: rules.RankedRate, account: CarrierAccount, reason: str
):
    rate = candidate.rate
    fields = {
        "status": Shipment.Status.BUYING,
        "account": account,
        "carrier": rate.carrier,
        "service": rate.service,
        "provider_shipment_id": rate.provider_shipment_id,
        "provider_rate_id": rate.provider_rate_id,
        "rate": rate.amount,
        "price": candidate.price,
        "currency": rate.currency,
        "delivery_days": rate.delivery_days,
        "guaranteed": rate.guaranteed,
        "chosen_reason": reason[:500],
        "error": "",
    }
    with transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(shipment, name, value)


def _shipment_finish(
    *, shipment: Shipment, label: Label, account: CarrierAccount, chosen: rules.RankedRate | None, reason: str
) -> Shipment:
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        rate = label.rate
        fees = [
            {"type": f.type, "amount": str(f.amount), "charged": f.charged, "refunded": f.refunded}
            for f in label.fees
        ]
        postage = sum((f.amount for f in label.fees if f.type == "PostageFee"), Decimal("0.00"))
        other_fees = sum(
            (f.amount for f in label.fees if f.type != "PostageFee" and f.charged), Decimal("0.00")
        )
        shipment.account = account
        shipment.carrier = rate.carrier or account.carrier
        shipment.service = rate.service
        shipment.rate = postage or rate.amount
        shipment.price = chosen.price if chosen else account.price_for(rate.amount)
        shipment.currency = rate.currency
        shipment.delivery_days = rate.delivery_days
        shipment.guaranteed = rate.guaranteed
        shipment.carrier_fees = other_fees
        shipment.fees = fees
        shipment.provider_shipment_id = label.provider_shipment_id
        shipment.provider_rate_id = rate.provider_rate_id
        shipment.tracking_number = label.tracking_number
        shipment.label_url = label.label_url
        shipment.label_format = label.label_format
        shipment.status = Shipment.Status.PURCHASED
        shipment.purchased_at = timezone.now()
        shipment.error = ""
        if reason:
            shipment.chosen_reason = reason[:500]
        if label.tracking:
            shipment.provider_tracker_id = label.tracking.provider_tracker_id
            shipment.public_tracking_url = label.tracking.public_url
            shipment.est_delivery_at = label.tracking.est_delivery
        shipment.save()
        RateQuote.objects.filter(shipment=shipment).update(chosen=False)
        RateQuote.objects.filter(shipment=shipment, account=account, service=rate.service, error="").update(
            chosen=True
        )
        audit_record(
            obj_type="carriers.Shipment",
            obj_id=shipment.pk,
            action="label_purchased",
            merchant_id=shipment.merchant_id,
            after={
                "carrier": shipment.carrier,
                "service": shipment.service,
                "tracking_number": shipment.tracking_number,
                "rate": shipment.rate,
                "price": shipment.price,
                "currency": shipment.currency,
            },
            message=shipment.chosen_reason,
        )
        outbox.emit(
            "carrier.label_purchased",
            {
                "shipment_id": shipment.pk,
                "order_id": shipment.order_id,
                "merchant_id": shipment.merchant_id,
                "carrier": shipment.carrier,
                "service": shipment.service,
                "tracking_number": shipment.tracking_number,
                "rate": str(shipment.rate),
                "price": str(shipment.price),
                "carrier_fees": str(shipment.carrier_fees),
                "insurance_cost": str(shipment.insurance_cost),
                "currency": shipment.currency,
            },
            merchant_id=shipment.merchant_id,
        )
        transaction.on_commit(partial(_enqueue_label_fetch, shipment_id=shipment.pk))
    return shipment


def _enqueue_label_fetch(*, shipment_id: int) -> None:
    from ..tasks import fetch_label

    try:
        fetch_label.delay(shipment_id=shipment_id)
    except Exception:  # broker down: the label URL still works; the file is fetched by the next poll
        log.warning("could not enqueue label fetch for shipment %s", shipment_id, exc_info=True)


def _shipment_fail(*, shipment: Shipment, message: str) -> None:
    with transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.FAILED, error=message[:1000])
        audit_record(
            obj_type="carriers.Shipment",
            obj_id=shipment.pk,
            action="label_failed",
            merchant_id=shipment.merchant_id,
            message=message[:300],
        )
        outbox.emit(
            "carrier.label_failed",
            {
                "shipment_id": shipment.pk,
                "order_id": shipment.order_id,
                "merchant_id": shipment.merchant_id,
                "message": message,
                # a failed return label is the return's problem, not the shipped order's
                "return_label": shipment.idempotency_key.startswith(RETURN_KEY_PREFIX),
            },
            merchant_id=shipment.merchant_id,
        )
    shipment.status, shipment.error = Shipment.Status.FAILED, message[:1000]


def shipment_store_label(*, shipment_id: int, connectors: ConnectorFactory | None = None) -> bool:
    """Download the label file and keep it with the shipment (the provider's URL may expire)."""
    shipment = Shipment.objects.select_related("account").get(pk=shipment_id)
    if shipment.label_file or not shipment.label_url or shipment.account is None:
        return False
    connector = (connectors or connector_for)(AccountConfig.of(shipment.account))
    content = connector.download(url=shipment.label_url)
    ext = {"PDF": "pdf", "ZPL": "zpl", "PNG": "png"}.get(shipment.label_format, "bin")
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment_id)
        if locked.label_file:
            return False
        locked.label_file.save(
            f"{locked.tracking_number or locked.pk}.{ext}", ContentFile(content), save=True
        )
    return True


def shipment_void(*, merchant, shipment: Shipment, connectors: ConnectorFactory | None = None) -> Shipment:
    """Void (refund) a bought label that has not left the building."""
    shipment = Shipment.objects.for_merchant(merchant).select_related("account").get(pk=shipment.pk)
    if shipment.status == Shipment.Status.VOIDED:
        return shipment
    if shipment.status != Shipment.Status.PURCHASED:
        raise ShipmentStateError(f"a label that is {shipment.get_status_display().lower()} cannot be voided")
    if shipment.scan_form_id:
        raise ShipmentStateError("this label is on a scan form already")
    connector = (connectors or connector_for)(AccountConfig.of(shipment.account))
    try:
        result = connector.void(provider_shipment_id=shipment.provider_shipment_id)
    except RejectedProviderError as exc:
        raise ShipmentStateError(f"the carrier refused the refund: {exc.message}") from exc
    if result.refund_status == "rejected":
        raise ShipmentStateError("the carrier refused the refund")
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        if shipment.status == Shipment.Status.VOIDED:
            return shipment
        shipment.status = Shipment.Status.VOIDED
        shipment.refund_status = result.refund_status or "submitted"
        shipment.voided_at = timezone.now()
        shipment.save(update_fields=["status", "refund_status", "voided_at", "updated_at"])
        audit_record(
            obj_type="carriers.Shipment",
            obj_id=shipment.pk,
            action="label_voided",
            merchant_id=shipment.merchant_id,
            before={"status": Shipment.Status.PURCHASED},
            after={"status": Shipment.Status.VOIDED, "refund_status": shipment.refund_status},
        )
        outbox.emit(
            "carrier.label_voided",
            {
                "shipment_id": shipment.pk,
                "order_id": shipment.order_id,
                "merchant_id": shipment.merchant_id,
                "refund_status": shipment.refund_status,
                "price": str(shipment.price),
                "currency": shipment.currency,
            },
            merchant_id=shipment.merchant_id,
        )
    return shipment
