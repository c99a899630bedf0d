"""Cross-app fixtures: the order book's warehouses, products and import helpers, and billing's standard card."""

from __future__ import annotations

import pytest

from tests.carriers.conftest import fake_easypost, four_accounts, order_a  # noqa: F401
from tests.orders.conftest import after_commit, east, products, run_import, stocked, west  # noqa: F401


@pytest.fixture
def standard_card(db):
    from billing import services

    return services.standard_card_ensure()
