"""Guards against toolkit bugs that would crash a long session."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# Run in a process of its own: in the middle of a full test run, garbage from earlier tests is collected at any
# moment and moves None's reference count by itself (the check flaked). Here nothing else runs.
_CHECK = textwrap.dedent("""
    import gc, sys
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import (QApplication, QListWidget, QListWidgetItem, QTableWidget, QTableWidgetItem,
                                   QTreeWidget, QTreeWidgetItem)
    app = QApplication([])
    table, tree, lst, model = QTableWidget(100, 6), QTreeWidget(), QListWidget(), QStandardItemModel(0, 1)
    gc.collect()
    gc.disable()
    before = sys.getrefcount(None)
    for n in range(600):
        table.setItem(n // 6, n % 6, QTableWidgetItem("x"))
    for _ in range(200):
        tree.addTopLevelItem(QTreeWidgetItem(["x"]))
        lst.addItem(QListWidgetItem("x"))
        model.appendRow(QStandardItem("x"))
    print(sys.getrefcount(None) - before)
""")


def test_views_taking_items_do_not_steal_references_to_none() -> None:
    """PySide6 6.12.0 dropped a reference to None per item handed to a view; after a few thousand (a long day, a
    500-subject list) the interpreter aborts. pyproject.toml excludes that version; this test fails if it comes
    back (the faulty release loses one reference per item: about 1,200 here)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True, env=env, timeout=60,
                         check=True)
    assert int(out.stdout.strip().splitlines()[-1]) > -50
