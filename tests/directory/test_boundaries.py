"""Who may import what: whoosh stays behind the search engine seam, and the directory depends on
no domain above it (referrals → accounts → directory → geo)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_CODE = ["app.py", "extensions.py", "accounts", "admin", "directory", "geo", "referrals", "web"]


def _imports() -> list[tuple[str, str]]:
    """(file, imported module) for every import statement in the app's code, at any depth
    (imports inside functions count: they are dependencies too)."""
    found = []
    for entry in APP_CODE:
        path = ROOT / entry
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            relative = file.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found += [(relative, alias.name) for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.append((relative, node.module))
                    found += [(relative, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _importers(module: str) -> set[str]:
    return {file for file, name in _imports() if name == module or name.startswith(module + ".")}


def test_only_the_whoosh_engine_imports_whoosh():
    assert _importers("whoosh") == {"directory/search/whoosh_engine.py"}


def test_only_lifecycle_names_the_whoosh_engine():
    """The layers above the seam (searching, sync, spelling) import engine.py, never an engine."""
    assert _importers("directory.search.whoosh_engine") == {"directory/search/lifecycle.py"}


def test_the_directory_imports_neither_accounts_nor_referrals():
    """Checked in a fresh interpreter (what importing every directory module loads), and in the
    source (imports inside functions too)."""
    script = (
        "import importlib, pkgutil, sys, directory\n"
        "for module in pkgutil.walk_packages(directory.__path__, 'directory.'):\n"
        "    importlib.import_module(module.name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'app', 'accounts', 'referrals'})))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
    upward = {
        (file, name.split(".")[0])
        for file, name in _imports()
        if file.startswith("directory/") and name.split(".")[0] in ("accounts", "referrals")
    }
    assert upward == set()
