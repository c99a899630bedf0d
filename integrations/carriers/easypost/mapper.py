"""Pure mapping between our dataclasses (grams, millimetres, Decimal) and EasyPost's wire format
(ounces, inches, strings). No I/O: ``client.py`` calls these on the dicts the real client returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..base import (
    Address,
    AddressCheck,
    Fee,
    Label,
    ManifestResult,
    Parcel,
    Rate,
    RateResponse,
    ShipOptions,
    TrackingDetail,
    TrackingInfo,
    VoidResult,
)
from ..rules import SIGNATURE_CODES

GRAMS_PER_OZ = Decimal("28.349523125")
MM_PER_INCH = Decimal("25.4")

TO_CARRIER = {
    "usps": "usps",
    "ups": "ups",
    "upsdap": "ups",
    "upsmailinnovations": "ups",
    "fedex": "fedex",
    "fedexdefault": "fedex",
    "fedexsmartpost": "fedex",
    "dhlexpress": "dhl_express",
    "dhl express": "dhl_express",
    "dhl_express": "dhl_express",
}
FROM_CARRIER = {"usps": "USPS", "ups": "UPS", "fedex": "FedEx", "dhl_express": "DHLExpress"}

TRACKING_STATUS = {
    "unknown": "unknown",
    "pre_transit": "pre_transit",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "available_for_pickup": "out_for_delivery",
    "delivered": "delivered",
    "return_to_sender": "returned",
    "failure": "exception",
    "error": "exception",
    "cancelled": "exception",
}


def carrier_code(name: str | None) -> str:
    key = (name or "").strip().lower()
    return TO_CARRIER.get(key, key.replace(" ", "_"))


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _dt(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def oz(grams: int) -> float:
    return float((Decimal(grams) / GRAMS_PER_OZ).quantize(Decimal("0.1")))


def inches(mm: int) -> float:
    return float((Decimal(mm) / MM_PER_INCH).quantize(Decimal("0.1")))


def grams(ounces: Any) -> int:
    return int((Decimal(str(ounces or 0)) * GRAMS_PER_OZ).to_integral_value())


# --- requests ---------------------------------------------------------------------------------------------


def address_to_ep(address: Address) -> dict[str, Any]:
    out = {
        "name": address.name,
        "company": address.company,
        "street1": address.street1,
        "street2": address.street2,
        "city": address.city,
        "state": address.state,
        "zip": address.postal_code,
        "country": address.country or "US",
        "phone": address.phone,
        "email": address.email,
    }
    if address.residential is not None:
        out["residential"] = address.residential
    return {k: v for k, v in out.items() if v not in ("", None)}


def parcel_to_ep(parcel: Parcel) -> dict[str, Any]:
    out: dict[str, Any] = {"weight": max(oz(parcel.weight_g), 0.1)}
    if parcel.package_type:
        out["predefined_package"] = parcel.package_type
    if parcel.length_mm and parcel.width_mm and parcel.height_mm:
        out.update(
            length=inches(parcel.length_mm), width=inches(parcel.width_mm), height=inches(parcel.height_mm)
        )
    return out


def customs_to_ep(parcel: Parcel, *, signer: str = "Fulfil") -> dict[str, Any] | None:
    if not parcel.customs_items:
        return None
    return {
        "eel_pfc": "NOEEI 30.37(a)",
        "customs_certify": True,
        "customs_signer": signer,
        "contents_type": "merchandise",
        "contents_explanation": "",
        "restriction_type": "none",
        "non_delivery_option": "return",
        "customs_items": [
            {
                "description": item.description[:255],
                "quantity": item.quantity,
                "weight": max(oz(item.weight_g), 0.1),
                "value": str(item.value),
                "currency": item.currency,
                "hs_tariff_number": item.hs_code,
                "origin_country": item.origin_country,
            }
            for item in parcel.customs_items
        ],
    }


def options_to_ep(parcel: Parcel, options: ShipOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"label_format": options.label_format or "PDF", "label_size": "4x6"}
    if options.signature in SIGNATURE_CODES:
        out["delivery_confirmation"] = SIGNATURE_CODES[options.signature]
    if parcel.lithium:
        out["hazmat"] = "LITHIUM"
    elif parcel.hazmat:
        out["hazmat"] = "LIMITED_QUANTITY"
    if options.reference:
        out["invoice_number"] = options.reference[:35]
    return out


def shipment_request(
    *,
    parcel: Parcel,
    from_address: Address,
    to_address: Address,
    options: ShipOptions,
    provider_account_id: str = "",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from_address": address_to_ep(from_address),
        "to_address": address_to_ep(to_address),
        "parcel": parcel_to_ep(parcel),
        "options": options_to_ep(parcel, options),
    }
    customs = customs_to_ep(parcel, signer=from_address.name or from_address.company or "Fulfil")
    if customs:
        body["customs_info"] = customs
    if provider_account_id:
        body["carrier_accounts"] = [provider_account_id]
    if options.reference:
        body["reference"] = options.reference
    return body


# --- responses --------------------------------------------------------------------------------------------


def rate_from_ep(data: dict[str, Any], *, account_id: int | None = None) -> Rate | None:
    amount = _money(data.get("rate"))
    if amount is None or not data.get("service"):
        return None
    days = data.get("delivery_days")
    if days is None:
        days = data.get("est_delivery_days")
    return Rate(
        carrier=carrier_code(data.get("carrier")),
        service=str(data["service"]),
        amount=amount,
        currency=(data.get("currency") or "USD").upper(),
        delivery_days=int(days) if isinstance(days, int | float) else None,
        guaranteed=bool(data.get("delivery_date_guaranteed")),
        provider_rate_id=data.get("id") or "",
        provider_shipment_id=data.get("shipment_id") or "",
        account_id=account_id,
        list_amount=_money(data.get("list_rate")),
        retail_amount=_money(data.get("retail_rate")),
        delivery_date=data.get("delivery_date") or "",
    )


def rates_from_shipment(data: dict[str, Any], *, account_id: int | None = None) -> RateResponse:
    if not isinstance(data, dict) or not isinstance(data.get("rates"), list):
        raise ValueError("EasyPost shipment without a rates list")
    rates = [
        r for r in (rate_from_ep(x, account_id=account_id) for x in data["rates"] if isinstance(x, dict)) if r
    ]
    messages = [
        f"{m.get('carrier', '')}: {m.get('message', '')}".strip(": ")
        for m in data.get("messages") or []
        if isinstance(m, dict)
    ]
    return RateResponse(rates=rates, provider_shipment_id=data.get("id") or "", messages=messages)


def fees_from_ep(data: list[dict[str, Any]] | None) -> tuple[Fee, ...]:
    out = []
    for fee in data or []:
        amount = _money(fee.get("amount"))
        if amount is None:
            continue
        out.append(
            Fee(
                type=fee.get("type") or "",
                amount=amount,
                charged=bool(fee.get("charged", True)),
                refunded=bool(fee.get("refunded", False)),
            )
        )
    return tuple(out)


def label_url_for(postage_label: dict[str, Any], label_format: str) -> tuple[str, str]:
    """The URL of the label in the wanted format, falling back to whatever the carrier produced."""
    wanted = {"PDF": "label_pdf_url", "ZPL": "label_zpl_url", "PNG": "label_url"}.get(
        label_format.upper(), ""
    )
    if wanted and postage_label.get(wanted):
        return postage_label[wanted], label_format.upper()
    for key, fmt in (("label_pdf_url", "PDF"), ("label_zpl_url", "ZPL"), ("label_url", "PNG")):
        if postage_label.get(key):
            file_type = postage_label.get("label_file_type") or ""
            if key == "label_url" and "pdf" in file_type:
                fmt = "PDF"
            return postage_label[key], fmt
    return "", label_format.upper()


def label_from_shipment(
    data: dict[str, Any], *, label_format: str, account_id: int | None = None
) -> Label | None:
    """The bought label of an EasyPost shipment, or None if postage was not bought."""
    postage = data.get("postage_label")
    selected = data.get("selected_rate")
    if not isinstance(postage, dict) or not isinstance(selected, dict):
        return None
    rate = rate_from_ep(selected, account_id=account_id)
    if rate is None:
        return None
    url, fmt = label_url_for(postage, label_format)
    tracker = data.get("tracker")
    insurance = _money(data.get("insurance"))
    return Label(
        provider_shipment_id=data.get("id") or "",
        tracking_number=data.get("tracking_code") or "",
        label_url=url,
        label_format=fmt,
        rate=rate,
        fees=fees_from_ep(data.get("fees")),
        tracking=tracking_from_ep(tracker) if isinstance(tracker, dict) else None,
        insurance_amount=insurance,
    )


def void_from_shipment(data: dict[str, Any]) -> VoidResult:
    return VoidResult(
        provider_shipment_id=data.get("id") or "", refund_status=data.get("refund_status") or ""
    )


def _location(loc: dict[str, Any] | None) -> str:
    if not isinstance(loc, dict):
        return ""
    parts = [loc.get("city"), loc.get("state"), loc.get("zip"), loc.get("country")]
    return ", ".join(str(p) for p in parts if p)


def tracking_from_ep(data: dict[str, Any]) -> TrackingInfo:
    details = []
    for d in data.get("tracking_details") or []:
        if not isinstance(d, dict):
            continue
        provider_status = d.get("status") or "unknown"
        details.append(
            TrackingDetail(
                status=TRACKING_STATUS.get(provider_status, "unknown"),
                message=(d.get("message") or d.get("description") or "")[:500],
                occurred_at=_dt(d.get("datetime")),
                location=_location(d.get("tracking_location")),
                carrier_code=d.get("carrier_code") or "",
                provider_status=provider_status,
                provider_status_detail=d.get("status_detail") or "",
            )
        )
    status = data.get("status") or "unknown"
    return TrackingInfo(
        tracking_number=data.get("tracking_code") or "",
        status=TRACKING_STATUS.get(status, "unknown"),
        carrier=carrier_code(data.get("carrier")),
        provider_tracker_id=data.get("id") or "",
        provider_shipment_id=data.get("shipment_id") or "",
        est_delivery=_dt(data.get("est_delivery_date")),
        public_url=data.get("public_url") or "",
        signed_by=data.get("signed_by") or "",
        details=tuple(details),
    )


ADDRESS_FIELDS = ("street1", "street2", "city", "state", "postal_code", "country")


def _norm(value: str) -> str:
    return " ".join((value or "").upper().replace(".", "").split())


def address_check_from_ep(original: Address, data: dict[str, Any]) -> AddressCheck:
    """EasyPost's verified address → valid / proposed correction. Only address lines are compared (the
    carrier upper-cases names; that is not a correction)."""
    verifications = data.get("verifications") or {}
    delivery = verifications.get("delivery") or {}
    messages = tuple(
        e.get("message", "")
        for e in (delivery.get("errors") or [])
        if isinstance(e, dict) and e.get("message")
    )
    if delivery and not delivery.get("success", False):
        return AddressCheck(valid=False, proposed=None, messages=messages or ("Address not found",))
    verified = Address(
        name=original.name,
        company=original.company,
        street1=data.get("street1") or "",
        street2=data.get("street2") or "",
        city=data.get("city") or "",
        state=data.get("state") or "",
        postal_code=data.get("zip") or "",
        country=data.get("country") or original.country,
        phone=original.phone,
        email=original.email,
        residential=data.get("residential"),
    )
    same = (
        _norm(f"{original.street1} {original.street2}") == _norm(f"{verified.street1} {verified.street2}")
        and _norm(original.city) == _norm(verified.city)
        and _norm(original.state) == _norm(verified.state)
        and _norm(original.postal_code)[:5] == _norm(verified.postal_code)[:5]
        and _norm(original.country) == _norm(verified.country)
    )
    if same:  # case, punctuation and a ZIP+4 extension are not corrections
        return AddressCheck(valid=True, proposed=None, messages=messages)
    return AddressCheck(valid=True, proposed=verified, messages=messages)


def address_errors_from_body(body: Any) -> tuple[str, ...]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        details = [e.get("message", "") for e in err.get("errors") or [] if isinstance(e, dict)]
        return tuple(x for x in [err.get("message", ""), *details] if x)
    return ()


def scan_form_from_ep(data: dict[str, Any]) -> ManifestResult:
    return ManifestResult(
        provider_id=data.get("id") or "",
        status=data.get("status") or "",
        form_url=data.get("form_url") or "",
        tracking_numbers=tuple(data.get("tracking_codes") or ()),
    )


def event_summary(body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(event id, description, result object) of a webhook Event body."""
    if not isinstance(body, dict) or body.get("object") != "Event":
        raise ValueError("not an EasyPost Event")
    result = body.get("result") if isinstance(body.get("result"), dict) else {}
    return str(body.get("id") or ""), str(body.get("description") or ""), result
