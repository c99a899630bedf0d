"""House rules that import-linter cannot express: nothing imports a views module (URLconfs aside)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["fulfil", "accounts", "orders", "inventory", "warehouse", "integrations", "billing", "analytics"]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_nothing_imports_views_except_urlconfs():
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name.endswith("urls.py"):
                continue
            for name in _imports(path):
                if name.split(".")[0] not in APPS:
                    continue
                parts = name.split(".")
                if any(p in {"views", "webhook_views"} for p in parts[1:]):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
