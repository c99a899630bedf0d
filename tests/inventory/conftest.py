"""Inventory test fixtures: the staff key's associate works in WH1, the warehouse these tests create."""

import pytest


# Staff work only in the warehouses they are assigned to (warehouse.access).
@pytest.fixture
def associate(associate):
    associate.warehouse_codes = ["WH1"]
    associate.save(update_fields=["warehouse_codes"])
    return associate
