#!/usr/bin/env bash
# Builds the one-folder bundle for a ward laptop: dist/msc-sle-crf/ (the program, Python, Qt, SQLCipher, the forms,
# the CTCAE table, the migrations, Qt's French translation; nothing else needed on the laptop), plus
# install.sh and the .desktop entry inside it, and dist/msc-sle-crf-<version>-linux-x86_64.tar.gz.
#   packaging/build.sh [DIST_DIR]        (then: packaging/smoke.sh DIST_DIR)
# Windows: packaging/build.ps1 (the same spec).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
dist="${1:-dist}"
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  "$PY" -m pip install -q -e ".[bundle]"
fi
version="$("$PY" -c 'import msc_sle_crf; print(msc_sle_crf.__version__)')"
started=$(date +%s)
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$dist" --workpath build/pyinstaller \
  packaging/msc-sle-crf.spec
bundle="$dist/msc-sle-crf"
install -m 0755 packaging/install.sh "$bundle/install.sh"
install -m 0644 packaging/msc-sle-crf.desktop "$bundle/msc-sle-crf.desktop"
echo "$version" > "$bundle/VERSION"
tarball="$dist/msc-sle-crf-$version-linux-$(uname -m).tar.gz"
tar -C "$dist" -czf "$tarball" msc-sle-crf
took=$(( $(date +%s) - started ))
echo "bundle: $bundle ($(du -sh "$bundle" | cut -f1), $(find "$bundle" -type f | wc -l) files); archive: $tarball ($(du -sh "$tarball" | cut -f1)); built in ${took} s"
echo "BUNDLE {\"name\": \"bundle\", \"size_mb\": $(du -sm "$bundle" | cut -f1), \"archive_mb\": $(du -sm "$tarball" | cut -f1), \"build_s\": $took}"
