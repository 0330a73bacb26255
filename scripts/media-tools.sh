#!/usr/bin/env bash
# Makes sure ffprobe and ffmpeg (Debian's ffmpeg package) are on the machine: the recording tests read
# the recorded WebM files back with them, as a user checking a download would.
set -euo pipefail

if command -v ffprobe >/dev/null && command -v ffmpeg >/dev/null; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi

echo "media-tools.sh: installing ffmpeg" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends ffmpeg
ffprobe -version | head -1
