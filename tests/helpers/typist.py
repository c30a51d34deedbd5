"""Child process for the keystroke crash test: a form on screen (offscreen), a user typing into one of its fields,
each keystroke printed once the program has handled it; it types until it is killed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    db, user, password, subject, row = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from msc_sle_crf.services import Site, Workspace
    from msc_sle_crf.services.entry import FormRef
    from msc_sle_crf.ui.form import FormWindow

    app = QApplication(sys.argv)
    site = Site.open(db)
    ws = Workspace.sign_in(site, user, password)
    window = FormWindow(ws, FormRef(subject, "D0", "vital_signs"))
    window.show()
    app.processEvents()
    editor = window.view.fields[("vs", row, "VSTIM")].editor.focus_widget()
    editor.setFocus()
    typed = ""
    print("ready", flush=True)
    for n in range(10_000):
        char = "0123456789"[n % 10]
        QTest.keyClick(editor, char)  # handled when this returns: checked, shown, queued for the typing buffer
        typed += char
        print(f"typed {len(typed)} {time.time():.6f}", flush=True)
        QTest.qWait(45)  # a fast typist: the event loop runs between keystrokes
    print("done", flush=True)


if __name__ == "__main__":
    main()
