"""The sales-channel protocol every platform implements, the registry, and the typed errors.

A connector is built for one ``ChannelConnection`` (``CONNECTORS[platform](connection)``); services receive it
as an argument so tests can hand in a fake. Mappers (pure) turn platform payloads into
``orders.canonical.CanonicalOrder`` and ``ChannelProduct``; clients are the only I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from orders.canonical import CanonicalOrder


class ProviderError(Exception):
    """A platform call failed."""


class RetryableProviderError(ProviderError):
    """Network error, timeout, 5xx or 429: try again later (``retry_after`` seconds when the platform said)."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class RejectedProviderError(ProviderError):
    """4xx or bad data: retrying the same request will not help."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class WebhookSignatureError(Exception):
    """The webhook's signature did not verify."""


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str  # plain language, shown to the merchant
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelProduct:
    external_id: str  # the variant / listing id on the platform
    sku: str
    name: str
    barcode: str = ""
    price: Decimal = Decimal("0")
    currency: str = "USD"
    weight_g: int = 0
    parent_id: str = ""  # the product id when external_id is a variant
    inventory_item_id: str = ""  # Shopify's inventory item
    quantity: int | None = None  # the platform's current stock figure, when it says


@dataclass(frozen=True)
class OrderPage:
    orders: list[CanonicalOrder]
    cursor: str  # the position to resume from next time
    more: bool = False


@dataclass(frozen=True)
class StockUpdate:
    sku: str
    quantity: int
    external_id: str = ""  # the platform's variant/listing id when we know it
    inventory_item_id: str = ""
    parent_id: str = ""  # the product of a variant (WooCommerce variations)


@dataclass(frozen=True)
class FulfillmentLine:
    sku: str
    quantity: int
    external_line_id: str = ""


@dataclass(frozen=True)
class Tracking:
    carrier: str
    number: str
    url: str = ""
    service: str = ""


@dataclass(frozen=True)
class Webhook:
    """A received webhook after verification: what it is about, not yet processed."""

    event_id: str
    topic: str
    account_id: str = ""
    payload: Any = None


@dataclass(frozen=True)
class WebhookAction:
    """What a webhook means for us: an order to import, an uninstall, a privacy request, or nothing."""

    kind: str  # order | uninstall | privacy | fulfillment_request | cancellation_request | ignore
    order: CanonicalOrder | None = None
    data: dict = field(default_factory=dict)


@runtime_checkable
class SalesChannel(Protocol):
    platform: ClassVar[str]
    syncs: ClassVar[tuple[str, ...]]  # human-readable list for the integrations page
    auth: ClassVar[str]  # "oauth" | "keys"

    def authenticate(self) -> None:
        """Make sure the connection has a usable token (refresh before expiry)."""

    def test_connection(self) -> ConnectionCheck: ...

    def fetch_orders(self, *, cursor: str) -> OrderPage: ...

    def fetch_products(self) -> list[ChannelProduct]: ...

    def push_available(self, *, updates: list[StockUpdate]) -> None: ...

    def push_fulfillment(
        self, *, order_external_id: str, lines: list[FulfillmentLine], tracking: Tracking
    ) -> str: ...

    def push_cancellation(self, *, order_external_id: str, reason: str = "") -> None: ...

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, secret: str) -> Webhook: ...

    def interpret_webhook(self, webhook: Webhook) -> WebhookAction: ...


CONNECTORS: dict[str, type] = {}


def register(cls: type) -> type:
    CONNECTORS[cls.platform] = cls  # type: ignore[attr-defined]
    return cls


def connector_for(connection, **kwargs) -> SalesChannel:
    from integrations import platforms  # noqa: F401 - fills the registry

    return CONNECTORS[connection.platform](connection, **kwargs)


def header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup that also understands Django's ``HTTP_X_...`` META names."""
    wanted = name.lower()
    for key, value in headers.items():
        k = key.lower()
        if k == wanted or k == "http_" + wanted.replace("-", "_"):
            return value
    return ""
