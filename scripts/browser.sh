#!/usr/bin/env bash
# Makes sure Debian's Chromium (and fonts that draw the room's text and emoji) is on the machine for
# the browser tests. Playwright drives /usr/bin/chromium directly (executable_path): its own browser
# download cannot reach its CDN from CI, so `playwright install` is never run.
set -euo pipefail

packages=(chromium fonts-liberation fonts-noto-color-emoji)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi

echo "browser.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
command -v chromium >/dev/null
chromium --version
