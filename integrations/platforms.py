"""Imports every platform connector so the registry in ``integrations.base`` is full."""

from integrations.shopify import client as shopify  # noqa: F401
from integrations.woocommerce import client as woocommerce  # noqa: F401
