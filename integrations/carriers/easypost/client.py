"""The only I/O to EasyPost: the real ``easypost`` client, with explicit timeouts, and typed errors.

``EasyPostCarrier`` implements ``integrations.carriers.base.Carrier``. Tests point it at a local fake server
with ``api_base`` (the ``EASYPOST_API_BASE`` setting); production uses EasyPost's default base URL.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import easypost
import requests
from easypost import errors as ep_errors

from ..base import (
    Address,
    AddressCheck,
    Label,
    ManifestResult,
    Parcel,
    Rate,
    RateResponse,
    ShipOptions,
    TrackingInfo,
    VoidResult,
)
from ..exceptions import RejectedProviderError, RetryableProviderError
from . import mapper

DEFAULT_API_BASE = "https://api.easypost.com/v2"
_local = threading.local()

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


def _client(api_key: str, api_base: str, timeout: float) -> easypost.EasyPostClient:
    """One client (and so one keep-alive HTTP session) per thread and credential."""
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    key = (api_key, api_base, timeout)
    client = cache.get(key)
    if client is None:
        client = easypost.EasyPostClient(api_key, api_base=api_base, timeout=timeout)
        cache[key] = client
    return client


def translate(exc: Exception, *, what: str) -> Exception:
    """An easypost/requests exception as our typed error."""
    status = getattr(exc, "http_status", None)
    code = getattr(exc, "code", "") or ""
    message = getattr(exc, "message", "") or str(exc)
    if isinstance(exc, ep_errors.TimeoutError | requests.exceptions.Timeout):
        return RetryableProviderError(f"{what}: timeout", status=status, code="timeout")
    if isinstance(exc, ep_errors.HttpError | requests.exceptions.ConnectionError):
        return RetryableProviderError(f"{what}: connection failed", status=status, code="network")
    if isinstance(exc, ep_errors.RateLimitError) or status == 429:
        return RetryableProviderError(f"{what}: rate limited", status=429, code="rate_limited")
    if isinstance(exc, ep_errors.JsonError):
        if status is not None and 400 <= status < 500 and status not in RETRYABLE_STATUS:
            return RejectedProviderError(f"{what}: rejected ({status})", status=status, code="bad_response")
        return RetryableProviderError(f"{what}: malformed response", status=status, code="malformed")
    if status is not None and (status >= 500 or status in RETRYABLE_STATUS):
        return RetryableProviderError(f"{what}: server error {status}", status=status, code=code or "server")
    if status is not None and 400 <= status < 500:
        return RejectedProviderError(f"{what}: {message}", status=status, code=code)
    if isinstance(exc, ValueError | KeyError | TypeError):
        return RetryableProviderError(f"{what}: malformed response", code="malformed")
    return RetryableProviderError(f"{what}: {message}", status=status, code=code or "unknown")


class EasyPostCarrier:
    """One EasyPost API key (optionally limited to one EasyPost carrier account)."""

    provider = "easypost"

    def __init__(
        self,
        *,
        api_key: str,
        api_base: str | None = None,
        timeout: float = 8.0,
        provider_account_id: str = "",
        account_id: int | None = None,
        carrier: str = "",
    ) -> None:
        self.api_key = api_key
        self.api_base = api_base or DEFAULT_API_BASE
        self.timeout = float(timeout)
        self.provider_account_id = provider_account_id
        self.account_id = account_id
        self.carrier = carrier

    @property
    def client(self) -> easypost.EasyPostClient:
        return _client(self.api_key, self.api_base, self.timeout)

    def _call(self, what: str, fn, *args, **kwargs) -> Any:
        try:
            result = fn(*args, **kwargs)
        except (RetryableProviderError, RejectedProviderError):
            raise
        except Exception as exc:
            raise translate(exc, what=what) from exc
        return result.to_dict() if hasattr(result, "to_dict") else result

    # --- Carrier protocol ---------------------------------------------------------------------------------

    def rates(
        self, *, parcel: Parcel, from_address: Address, to_address: Address, options: ShipOptions
    ) -> RateResponse:
        body = mapper.shipment_request(
            parcel=parcel,
            from_address=from_address,
            to_address=to_address,
            options=options,
            provider_account_id=self.provider_account_id,
        )
        data = self._call("rates", self.client.shipment.create, **body)
        try:
            response = mapper.rates_from_shipment(data, account_id=self.account_id)
        except (ValueError, KeyError, TypeError) as exc:
            raise RetryableProviderError("rates: malformed response", code="malformed") from exc
        if self.carrier:
            response = RateResponse(
                rates=[r for r in response.rates if r.carrier == self.carrier],
                provider_shipment_id=response.provider_shipment_id,
                messages=response.messages,
            )
        return response

    def buy(self, *, rate: Rate, options: ShipOptions) -> Label:
        params: dict[str, Any] = {"rate": {"id": rate.provider_rate_id}}
        if options.insurance_amount:
            params["insurance"] = str(options.insurance_amount)
        data = self._call("buy", self.client.shipment.buy, rate.provider_shipment_id, **params)
        label = self._label_or_error(data, options.label_format)
        return label

    def _label_or_error(self, data: dict[str, Any], label_format: str) -> Label:
        try:
            label = mapper.label_from_shipment(data, label_format=label_format, account_id=self.account_id)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RetryableProviderError("buy: malformed response", code="malformed") from exc
        if label is None or not label.tracking_number:
            raise RetryableProviderError("buy: response without a label", code="malformed")
        return label

    def retrieve_label(self, *, provider_shipment_id: str, label_format: str = "PDF") -> Label | None:
        data = self._call("retrieve", self.client.shipment.retrieve, provider_shipment_id)
        try:
            return mapper.label_from_shipment(data, label_format=label_format, account_id=self.account_id)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def convert_label(self, *, provider_shipment_id: str, label_format: str) -> Label:
        data = self._call("label", self.client.shipment.label, provider_shipment_id, file_format=label_format)
        return self._label_or_error(data, label_format)

    def void(self, *, provider_shipment_id: str) -> VoidResult:
        data = self._call("refund", self.client.shipment.refund, provider_shipment_id)
        return mapper.void_from_shipment(data)

    def track(self, *, tracking_number: str, carrier: str, provider_tracker_id: str = "") -> TrackingInfo:
        if provider_tracker_id:
            data = self._call("track", self.client.tracker.retrieve, provider_tracker_id)
        else:
            data = self._call(
                "track",
                self.client.tracker.create,
                tracking_code=tracking_number,
                carrier=mapper.FROM_CARRIER.get(carrier, carrier),
            )
        return mapper.tracking_from_ep(data)

    def verify_address(self, *, address: Address) -> AddressCheck:
        try:
            data = self._call(
                "verify address", self.client.address.create, verify=True, **mapper.address_to_ep(address)
            )
        except RejectedProviderError as exc:
            return AddressCheck(valid=False, proposed=None, messages=(exc.message,))
        return mapper.address_check_from_ep(address, data)

    def manifest(self, *, provider_shipment_ids: list[str]) -> ManifestResult:
        data = self._call(
            "scan form",
            self.client.scan_form.create,
            shipment=[{"id": sid} for sid in provider_shipment_ids],
        )
        return mapper.scan_form_from_ep(data)

    def ping(self) -> str:
        data = self._call("test", self.client.user.retrieve_me)
        name = data.get("name") or data.get("id") or "account"
        balance = data.get("balance")
        return f"connected as {name}" + (f" (balance {Decimal(str(balance)):.2f})" if balance else "")

    def download(self, *, url: str) -> bytes:
        try:
            response = requests.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise translate(exc, what="label download") from exc
        if response.status_code >= 400:
            raise (RetryableProviderError if response.status_code >= 500 else RejectedProviderError)(
                f"label download: HTTP {response.status_code}", status=response.status_code
            )
        return response.content
