"""Demo data registry. ``python manage.py loaddemo`` runs every registered loader in order; each app registers
its own loader from ``AppConfig.ready``. Loaders must be idempotent (get_or_create), so loading twice is safe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEMO_PASSWORD = "fulfil-demo"

_loaders: list[tuple[int, str, Callable[[], None]]] = []
_loading: ContextVar[bool] = ContextVar("fulfil_demo_loading", default=False)


@contextmanager
def loading() -> Iterator[None]:
    """Demo data is being loaded (its transactions and their after-commit work included): code that would
    call an outside service (a carrier's live rates) must not — a bare machine reaches none."""
    token = _loading.set(True)
    try:
        yield
    finally:
        _loading.reset(token)


def is_loading() -> bool:
    return _loading.get()


def register(order: int, name: str, fn: Callable[[], None]) -> None:
    if all(existing != name for _, existing, _ in _loaders):
        _loaders.append((order, name, fn))


def loaders() -> list[tuple[int, str, Callable[[], None]]]:
    return sorted(_loaders, key=lambda item: item[0])
