#!/usr/bin/env bash
# Install what is needed, then run the whole test suite with no display, then lint and type-check the core.
set -euo pipefail
cd "$(dirname "$0")"
packaging/bootstrap.sh dev
export QT_QPA_PLATFORM=offscreen
.venv/bin/python -m pytest "$@"
.venv/bin/ruff check msc_sle_crf tests benchmarks packaging
.venv/bin/mypy
