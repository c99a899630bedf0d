"""The onboarding checklist. Apps register their own steps from ``AppConfig.ready``:

onboarding.register(Step(key="products", title="Add products", order=50,
                         is_done=lambda merchant: ..., url_name="inventory:product_list"))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.urls import NoReverseMatch, reverse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    order: int
    is_done: Callable[..., bool]
    url_name: str = ""
    help: str = ""

    def url(self) -> str:
        if not self.url_name:
            return ""
        try:
            return reverse(self.url_name)
        except NoReverseMatch:
            return ""


_steps: dict[str, Step] = {}


def register(step: Step) -> None:
    _steps[step.key] = step


def steps() -> list[Step]:
    return sorted(_steps.values(), key=lambda s: s.order)


@dataclass(frozen=True)
class Progress:
    items: list[tuple[Step, bool]]

    @property
    def done(self) -> int:
        return sum(1 for _, ok in self.items if ok)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def complete(self) -> bool:
        return self.done == self.total


def _is_done(step: Step, merchant) -> bool:
    """A step whose check breaks shows as not done (and is logged) rather than taking the dashboard down."""
    try:
        with transaction.atomic():
            return bool(step.is_done(merchant))
    except Exception:
        log.exception(
            "onboarding step %r failed for merchant %s", step.key, getattr(merchant, "pk", merchant)
        )
        return False


def progress(merchant) -> Progress:
    return Progress(items=[(step, _is_done(step, merchant)) for step in steps()])
