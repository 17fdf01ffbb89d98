"""Imports point one way: admin -> referrals -> accounts -> directory -> geo; any may use web
and extensions; nothing imports app, which imports them all to build the application.

Read from the source, so an import hidden inside a function counts as much as one at the top.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each part of the app must not import (top-level names).
FORBIDDEN = {
    "extensions.py": {"app", "web", "geo", "directory", "accounts", "referrals", "admin"},
    "web": {"app", "geo", "directory", "accounts", "referrals", "admin"},
    "geo": {"app", "extensions", "web", "directory", "accounts", "referrals", "admin"},
    "directory": {"app", "accounts", "referrals", "admin"},
    "accounts": {"app", "referrals", "admin"},
    "referrals": {"app", "admin"},
    "admin": {"app"},  # network administration pages sit on top of every domain
}


def _imported(part: str) -> dict[str, set[str]]:
    """The top-level names each module of `part` (a package or a module file) imports."""
    path = ROOT / part
    files = [path] if path.is_file() else sorted(path.rglob("*.py"))
    imported = {}
    for file in files:
        names = set()
        for node in ast.walk(ast.parse(file.read_text(), filename=str(file))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        imported[str(file.relative_to(ROOT))] = names
    return imported


def test_every_part_of_the_app_is_checked():
    parts = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "migrations"}
    assert parts | {"extensions.py"} == set(FORBIDDEN)


@pytest.mark.parametrize("part", FORBIDDEN)
def test_imports_point_one_way_and_nothing_imports_app(part):
    wrong = {
        module: sorted(names & FORBIDDEN[part])
        for module, names in _imported(part).items()
        if names & FORBIDDEN[part]
    }
    assert wrong == {}
