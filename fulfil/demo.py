"""Demo data registry. ``python manage.py loaddemo`` runs every registered loader in order; each app registers
its own loader from ``AppConfig.ready``. Loaders must be idempotent (get_or_create), so loading twice is safe."""

from __future__ import annotations

from collections.abc import Callable

DEMO_PASSWORD = "fulfil-demo"

_loaders: list[tuple[int, str, Callable[[], None]]] = []


def register(order: int, name: str, fn: Callable[[], None]) -> None:
    if all(existing != name for _, existing, _ in _loaders):
        _loaders.append((order, name, fn))


def loaders() -> list[tuple[int, str, Callable[[], None]]]:
    return sorted(_loaders, key=lambda item: item[0])
