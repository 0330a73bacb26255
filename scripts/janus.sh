#!/usr/bin/env bash
# Installs Debian's Janus WebRTC server (`janus`, 1.1.x: VideoRoom with remote publishers) for the
# media tests when it is missing. Idempotent: does nothing when /usr/bin/janus is already there.
# The tests start their own Janus processes with generated configs; the packaged service is not used.
set -euo pipefail

if [ -x /usr/bin/janus ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "scripts/janus.sh: /usr/bin/janus is missing and this is not a Debian system; install Janus 1.1 or later" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "installing Debian's janus (WebRTC server for LIVE_MEDIA=janus tests)" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends janus
# The package enables its own service on the default ports; the tests never use it.
if command -v systemctl >/dev/null && systemctl is-active --quiet janus 2>/dev/null; then
    $SUDO systemctl disable --now janus || true
fi
