#!/usr/bin/env bash
# Make sure the browser tests have a Chromium: $CHROMIUM, a system Chromium or Chrome, or
# Debian's package (installed here, with sudo when not root). Prints the binary it found.
set -euo pipefail

find_browser() {
  for candidate in "${CHROMIUM:-}" chromium chromium-browser google-chrome google-chrome-stable; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && { command -v "$candidate"; return 0; }
  done
  return 1
}

if browser=$(find_browser); then
  echo "Chromium for the browser tests: $browser"
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian's chromium for the browser tests ..."
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  find_browser && exit 0
fi
echo "No Chromium found. Install Chromium or Chrome and set CHROMIUM=/path/to/it," >&2
echo "or run: .venv/bin/python -m playwright install chromium" >&2
exit 1
