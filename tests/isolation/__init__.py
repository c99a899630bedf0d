"""Tenant-isolation cases, one module per app. Each module defines ``CASES``: a list of ``Case``.

A case builds one object owned by a merchant and names the pages and API paths that must show it to its
owner and hide it from every other merchant (404 on detail, absent from lists). Add a module or a row
whenever an app adds a merchant-facing page or endpoint; ``tests/test_tenant_isolation.py`` runs them all.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Any], Any]  # merchant -> object
    marker: Callable[[Any], str]  # object -> a string that appears when the object is shown (e.g. its SKU)
    html_detail: Callable[[Any], str] | None = None  # object -> URL of its page
    html_lists: list[str] = field(default_factory=list)  # list pages (may take ?q=marker)
    api_detail: Callable[[Any], str] | None = None
    api_lists: list[str] = field(default_factory=list)
    api_writes: list[tuple[str, Callable[[Any], str], dict]] = field(
        default_factory=list
    )  # (method, url_fn, body)


# API list endpoints that show nothing tenant-owned, with the reason. Everything else under /api/v1/ that lists
# things must appear in some case's ``api_lists`` (``test_every_api_list_has_an_isolation_case``).
NOT_TENANT_SCOPED: dict[str, str] = {
    "/api/v1/me/": "describes the caller's own key, user and membership only",
}
# API lists for warehouse staff keys only: a merchant key gets 403 (checked by the isolation test).
STAFF_ONLY: dict[str, str] = {
    "/api/v1/waves/": "the operator's pick waves span merchants",
}


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases.extend(getattr(module, "CASES", []))
    return cases
