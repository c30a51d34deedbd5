"""The frozen program's entry point (PyInstaller): the same command line as ``msc-sle-crf``; with no command it
starts the app on the TRAINING database, as ``./run.sh`` does."""

from __future__ import annotations

import multiprocessing

from msc_sle_crf.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
