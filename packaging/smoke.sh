#!/usr/bin/env bash
# Smoke test of the frozen bundle as a ward laptop runs it: no Python on PATH, an empty environment, no display.
#   packaging/smoke.sh [DIST_DIR]   (after packaging/build.sh DIST_DIR)
# --version; demo (a TRAINING database: the migrations); verify; a signed PDF written and checked against the site
# CA; the app's window painted (offscreen); 'selfcheck' (sign-in, a value saved and its audit record, a signed PDF
# checked, the trail, an encrypted backup, Qt's French translation); the French command-line messages; and, when
# tests/fixtures/previous-release.crfdb is there, a database of the previous release opened, copied and migrated.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dist="$(cd "${1:-$root/dist}" && pwd)"
bin="$dist/msc-sle-crf/msc-sle-crf"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/empty-path" "$work/home"
run() {  # the frozen program with nothing from this machine's Python: PATH holds an empty folder
  timeout "${SMOKE_TIMEOUT:-120}" env -i HOME="$work/home" PATH="$work/empty-path" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
    MSC_SLE_CRF_DATA_DIR="$work/data" MSC_SLE_CRF_LOG_DIR="$work/logs" MSC_SLE_CRF_LANG="${SMOKE_LANG:-en}" \
    MSC_SLE_CRF_EXIT_AFTER_PAINT="${MSC_SLE_CRF_EXIT_AFTER_PAINT:-}" \
    "$bin" "$@"
}
step() { printf '\n== %s\n' "$*"; }
if env -i PATH="$work/empty-path" /bin/sh -c 'command -v python3 || command -v python' >/dev/null; then
  echo "smoke: a Python is reachable on the empty PATH" >&2; exit 1
fi
step "--version"
run --version | tee "$work/version"
grep -q "msc-sle-crf $(cat "$dist/msc-sle-crf/VERSION")" "$work/version"
step "demo"
run demo --db "$work/t.crfdb" | head -3
step "verify"
printf 'training-manager\n' | run verify --db "$work/t.crfdb" --user admin --password-stdin
step "signed PDF, checked against the site CA"
printf 'training-doctor\n' | run pdf --db "$work/t.crfdb" --user dr.martin --password-stdin --blank \
  --out "$work/blank.pdf"
printf 'training-doctor\n' | run pdf-verify "$work/blank.pdf" --db "$work/t.crfdb" --user dr.martin \
  --password-stdin | tee "$work/pdf-verify"
grep -q "VALID" "$work/pdf-verify"
step "the app's window painted (offscreen)"
MSC_SLE_CRF_EXIT_AFTER_PAINT=1 run run --db "$work/t.crfdb" | tee "$work/painted"
grep -q painted "$work/painted"
step "selfcheck"
run selfcheck
step "French messages"
SMOKE_LANG=fr run --lang fr restore --db "$work/t.crfdb" --user admin --backup "$work/none.crfbak" \
  --password-stdin </dev/null 2>&1 | tee "$work/fr" || true
grep -q "mot de passe" "$work/fr"
fixture="$root/tests/fixtures/previous-release.crfdb"
if [ -f "$fixture" ]; then
  step "a database of the previous release: opened, copied aside, migrated, verified"
  cp "$fixture" "$work/old.crfdb"
  cp "$fixture.keys" "$work/old.crfdb.keys"
  printf 'training-manager\n' | run verify --db "$work/old.crfdb" --user admin --password-stdin
  ls "$work" | grep -q "old.crfdb.before-upgrade-"
fi
printf '\nsmoke: the frozen bundle passed (%s)\n' "$bin"
