"""Errors of the outbound floor. Views turn them into a plain message (409 in the API)."""


class WarehouseError(Exception):
    """An action the floor cannot take now, with a message for the screen."""


class ScanRefused(WarehouseError):
    """A scan that does not match what is expected (wrong location, wrong item). ``metric`` (FloorMetric
    fields) is recorded even though the scan's own changes roll back."""

    def __init__(self, message: str, *, metric: dict | None = None):
        super().__init__(message)
        self.metric = metric
