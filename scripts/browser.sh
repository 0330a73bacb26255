#!/usr/bin/env bash
# Makes sure Debian's Chromium is on the machine for the browser tests.
# Playwright drives /usr/bin/chromium directly (executable_path): its own browser download cannot
# reach its CDN from CI, so `playwright install` is never run.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi

echo "browser.sh: installing Debian's chromium" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation
command -v chromium >/dev/null
chromium --version
