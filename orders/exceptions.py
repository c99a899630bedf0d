"""Errors the order services raise. Views turn ``IllegalTransition`` and ``ChangeRefused`` into 409."""

from __future__ import annotations


class OrderError(Exception):
    """Base class for refused order operations; ``str(exc)`` is a message for a person."""


class IllegalTransition(OrderError):
    """The order's current status does not allow this transition."""

    def __init__(self, *, order_id: int | None, current: str, action: str, hint: str = "") -> None:
        self.order_id = order_id
        self.current = current
        self.action = action
        self.hint = hint
        message = f"Cannot {action.replace('_', ' ')}: the order is {current.replace('_', ' ')}."
        if hint:
            message = f"{message} {hint}"
        super().__init__(message)


class ChangeRefused(OrderError):
    """A change (address, lines, service) is not allowed any more; the message says why and what can
    still be done."""


class InvalidOrder(OrderError):
    """The canonical order cannot even be stored (no external id, no lines...). ``errors`` maps field to
    messages, like a form's."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
