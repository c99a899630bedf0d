"""The explicit registry of carrier providers. A direct carrier API or another aggregator is one more entry;
callers (services) never name a provider."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from .base import Carrier
from .easypost.client import EasyPostCarrier


@dataclass(frozen=True)
class AccountConfig:
    """A plain snapshot of a CarrierAccount, safe to hand to worker threads (no ORM access there)."""

    pk: int
    name: str
    provider: str
    carrier: str
    api_key: str
    provider_account_id: str
    timeout: float
    label_format: str
    enabled_services: tuple[str, ...]

    @classmethod
    def of(cls, account) -> AccountConfig:
        return cls(
            pk=account.pk,
            name=account.name,
            provider=account.provider,
            carrier=account.carrier,
            api_key=account.api_key,
            provider_account_id=account.provider_account_id,
            timeout=float(account.timeout_seconds),
            label_format=account.label_format,
            enabled_services=tuple(account.enabled_services or ()),
        )


def _easypost(config: AccountConfig) -> Carrier:
    return EasyPostCarrier(
        api_key=config.api_key,
        api_base=getattr(settings, "EASYPOST_API_BASE", "") or None,
        timeout=config.timeout,
        provider_account_id=config.provider_account_id,
        account_id=config.pk,
        carrier=config.carrier,
    )


REGISTRY: dict[str, Callable[[AccountConfig], Carrier]] = {
    "easypost": _easypost,
}

ConnectorFactory = Callable[[AccountConfig], Carrier]


def connector_for(config: AccountConfig) -> Carrier:
    try:
        factory = REGISTRY[config.provider]
    except KeyError as exc:
        raise LookupError(f"no carrier provider {config.provider!r}") from exc
    return factory(config)


# Webhook parsers per provider: raw payload dict -> WebhookNotice.
from .easypost import webhooks as _easypost_webhooks  # noqa: E402

WEBHOOK_PARSERS = {"easypost": _easypost_webhooks.parse}
