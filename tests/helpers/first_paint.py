"""Child process for the start-up test: the real entry point (``msc_sle_crf.cli.main``), ended at the sign-in
window's first paint, printing which heavy modules were loaded by then."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HEAVY = ("sqlalchemy", "alembic", "sqlcipher3", "pyhanko", "reportlab", "pydantic", "yaml", "msc_sle_crf.services",
         "msc_sle_crf.formdef", "msc_sle_crf.store", "msc_sle_crf.infusion", "msc_sle_crf.scoring",
         "msc_sle_crf.ui.lock_screen", "msc_sle_crf.ui.main_window", "msc_sle_crf.ui.window_policy",
         "msc_sle_crf.ui.first_password", "logging.handlers", "platformdirs")


def main() -> None:
    from msc_sle_crf.ui import app

    def report(window: object) -> None:
        def end() -> None:
            loaded = sorted({m if m.startswith("msc_sle_crf") or m in HEAVY else m.split(".")[0] for m in sys.modules
                             if m.startswith(HEAVY)})
            print("loaded " + " ".join(loaded), flush=True)
            os._exit(0)

        app.on_first_paint(window, end)

    app.exit_after_first_paint = report  # type: ignore[assignment]
    from msc_sle_crf.cli import main as cli_main

    cli_main(["run", "--db", sys.argv[1]])


if __name__ == "__main__":
    main()
