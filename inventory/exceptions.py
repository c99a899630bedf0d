"""Errors of the inventory services (views answer them with 409 and the message)."""


class InventoryError(Exception):
    """A stock operation that cannot be done as asked (the message says why)."""


class InsufficientStock(InventoryError):
    """A movement would take more units than a location, lot or level has."""


class AllocationOnHold(InventoryError):
    """The reference's stock is on hold: it stays reserved but may not be picked or shipped."""


class AppendOnlyError(InventoryError):
    """The stock ledger is append-only."""
