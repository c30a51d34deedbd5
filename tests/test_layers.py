"""The layers, checked mechanically: what each part of the package may import, and the size of the screens."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "msc_sle_crf"

# The domain core: no Qt, no database, no service, no screen.
CORE = ("formdef", "scoring", "infusion", "schedule", "status", "access", "i18n", "clock", "errors", "site_settings",
        "locations")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        if "migrations" in rel.parts:
            continue
        out.append((".".join(rel.parts), path))
    return out


MODULES = _modules()


def _in(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_each_module_imports_only_downwards(name: str, path: Path) -> None:
    imports = _imports(path)
    qt = {i for i in imports if _in(i, "PySide6", "pyqtgraph")}
    if not _in(name, "ui"):
        assert not qt, f"{name} imports Qt: only msc_sle_crf.ui may"
    if _in(name, "ui"):
        orm = {i for i in imports if _in(i, "sqlalchemy", "msc_sle_crf.store.tables", "msc_sle_crf.store.db",
                                          "sqlcipher3")}
        assert not orm, f"the screen {name} reaches into the database: {orm} (go through a service)"
    if _in(name, *CORE):
        upward = {i for i in imports if _in(i, "sqlalchemy", "msc_sle_crf.services", "msc_sle_crf.ui",
                                            "msc_sle_crf.cli", "msc_sle_crf.store")}
        assert not upward, f"the core module {name} imports {upward}"
    if _in(name, "export"):  # issue 16: the export core reads a DB-API connection it is given; no service, no ORM
        upward = {i for i in imports if _in(i, "sqlalchemy", "msc_sle_crf.services", "msc_sle_crf.ui",
                                            "msc_sle_crf.cli", "msc_sle_crf.store")}
        assert not upward, f"the export core module {name} imports {upward}"
    if _in(name, "services", "store", "audit", "security", "pdf"):
        assert not {i for i in imports if _in(i, "msc_sle_crf.ui", "msc_sle_crf.cli")}, name
    if name != "__main__" and not _in(name, "cli"):
        assert not {i for i in imports if _in(i, "msc_sle_crf.cli")}, f"{name} imports the command line (a cycle)"


SCREENS = sorted((PACKAGE / "ui").rglob("*.py"))


@pytest.mark.parametrize("path", SCREENS, ids=[str(p.relative_to(PACKAGE)) for p in SCREENS])
def test_no_screen_file_grows_past_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 500, f"{path.name}: {lines} lines: split it into parts that emit signals"
