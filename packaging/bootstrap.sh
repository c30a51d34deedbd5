#!/usr/bin/env bash
# Installs what the project needs on a Debian/Ubuntu machine: system packages (when missing), a virtual
# environment in .venv, and the project with the extras asked for. Safe to run again: it only adds what is missing.
#   packaging/bootstrap.sh [EXTRAS]     e.g. packaging/bootstrap.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "bootstrap: $PY not found; install Python 3.11 or newer" >&2; exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "bootstrap: Python 3.11 or newer is needed ($("$PY" --version 2>&1) found)" >&2; exit 1
fi

if command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  missing=()
  updated=0
  while read -r line; do
    line="${line%%#*}"; line="$(echo "$line" | xargs)"
    [ -z "$line" ] && continue
    if [ "$line" = "python3-venv" ] && "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then continue; fi
    installed=0
    IFS='|' read -ra alternatives <<< "$line"
    for pkg in "${alternatives[@]}"; do
      if dpkg -s "$pkg" >/dev/null 2>&1; then installed=1; break; fi
    done
    [ "$installed" -eq 1 ] && continue
    if [ "$updated" -eq 0 ]; then $sudo_cmd apt-get update -qq; updated=1; fi
    for pkg in "${alternatives[@]}"; do
      if apt-cache show "$pkg" >/dev/null 2>&1; then missing+=("$pkg"); break; fi
    done
  done < packaging/apt-packages.txt
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
