#!/usr/bin/env bash
# Install what is needed, then start the app (on the TRAINING database unless --db PATH is given).
set -euo pipefail
cd "$(dirname "$0")"
packaging/bootstrap.sh >&2
exec .venv/bin/msc-sle-crf run "$@"
