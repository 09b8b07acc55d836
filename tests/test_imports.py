"""Imports point one way (README, "Layout"): `crawler` and `listings_api` build on `directory` and
never on each other, `directory` on neither, and `directory/lib/` holds no Django state."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

# (package folder, module prefixes none of its files may import)
RULES = [
    ("directory", ("crawler", "listings_api")),
    ("crawler", ("listings_api", "directory.formats", "directory.crawl_report", "directory.views")),
    ("crawler", ("directory.admin",)),
    ("listings_api", ("crawler",)),
    ("directory/lib", ("django.conf", "django.core.cache", "django.db", "django.http")),
]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (a function-level import counts too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize(("folder", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_imports_point_one_way(folder, forbidden):
    offences = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for module in imported_modules(path):
            offences += [
                f"{path.relative_to(REPO)} imports {module}"
                for prefix in forbidden
                if _matches(module, prefix)
            ]
    assert offences == []


def test_the_rule_finds_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def later():\n    from django.db import connection\n    from crawler import sogs\n"
    )
    assert {"django.db", "django.db.connection", "crawler.sogs"} <= imported_modules(sample)
    assert _matches("django.db.models", "django.db") and not _matches("django.dbx", "django.db")
