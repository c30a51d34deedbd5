#!/usr/bin/env bash
# Installs (or upgrades) this bundle for the current user, or for everyone when run as root:
#   ./install.sh            -> ~/.local/opt/msc-sle-crf, menu entry in ~/.local/share/applications
#   sudo ./install.sh       -> /opt/msc-sle-crf, menu entry in /usr/share/applications
#   INSTALL_SCOPE=user|system and PREFIX=DIR choose otherwise.
# An upgrade replaces only the program: databases live in the user's data folder (or where --db points) and are
# migrated by the new program at their next opening, after a copy taken beside them (<db>.before-upgrade-...).
# The previous program is kept as <prefix>/msc-sle-crf.previous until the next upgrade.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
scope="${INSTALL_SCOPE:-$([ "$(id -u)" = 0 ] && echo system || echo user)}"
if [ "$scope" = system ]; then
  prefix="${PREFIX:-/opt}"; apps=/usr/share/applications; icons=/usr/share/icons/hicolor/256x256/apps
else
  prefix="${PREFIX:-$HOME/.local/opt}"; apps="$HOME/.local/share/applications"
  icons="$HOME/.local/share/icons/hicolor/256x256/apps"
fi
target="$prefix/msc-sle-crf"
mkdir -p "$prefix" "$apps" "$icons"
if [ "$here" != "$target" ]; then
  staging="$prefix/.msc-sle-crf.installing.$$"
  rm -rf "$staging"
  cp -a "$here" "$staging"
  if [ -d "$target" ]; then
    rm -rf "$target.previous"
    mv "$target" "$target.previous"
  fi
  mv "$staging" "$target"
fi
install -m 0644 "$target/_internal/icons/msc-sle-crf.png" "$icons/msc-sle-crf.png"
sed -e "s|@EXEC@|$target/msc-sle-crf|" -e "s|@ICON@|msc-sle-crf|" "$target/msc-sle-crf.desktop" \
  > "$apps/msc-sle-crf.desktop.tmp"
mv "$apps/msc-sle-crf.desktop.tmp" "$apps/msc-sle-crf.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$apps" || true
echo "installed $(cat "$target/VERSION" 2>/dev/null || echo '?') in $target; menu entry: $apps/msc-sle-crf.desktop"
echo "check it: $target/msc-sle-crf selfcheck"
