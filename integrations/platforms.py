"""Imports every platform connector so the registry in ``integrations.base`` is full."""

from integrations.amazon import client as amazon  # noqa: F401
from integrations.ebay import client as ebay  # noqa: F401
from integrations.shopify import client as shopify  # noqa: F401
from integrations.walmart import client as walmart  # noqa: F401
from integrations.woocommerce import client as woocommerce  # noqa: F401
