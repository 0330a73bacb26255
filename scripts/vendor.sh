#!/usr/bin/env bash
# Re-fetches the vendored Socket.IO browser client from the npm registry at the pinned version
# and checks every file against the sha256 recorded here (and in web/static/vendor/README.md).
#
#   scripts/vendor.sh          fetch, verify, and (re)write web/static/vendor/
#   scripts/vendor.sh --check  fetch and verify, then compare with the committed files; writes nothing
#
# Bumping the version: change VERSION, run with UPDATE_HASHES=1 to print the new sums, paste them
# below and into the README, then run it again without the variable.
set -euo pipefail

VERSION="4.8.4"
# Socket.IO client 4.x speaks Socket.IO protocol v5 / Engine.IO v4, which python-socketio 5.x serves.
PACKAGE="socket.io-client"
# The registry's dist.integrity for that tarball (`npm view socket.io-client@4.8.4 dist.integrity`).
INTEGRITY="sha512-7wjKAvVXYOJsbmUgkWbnhPD4bFpkqrUR0++XOjpGFmqDqsqV1CI93VTraeExLxpjxEqrWgFoSRZu1ihjLWfkAA=="

# file in the package -> file name under web/static/vendor/
# The source maps are not vendored: browsers fetch them only with the developer tools open (and get a
# 404 then), and they are ~500 KB of upstream sources that need not ship with the app.
declare -A TARGET=(
    ["dist/socket.io.esm.min.js"]="socket.io.esm.min.js"
    ["dist/socket.io.min.js"]="socket.io.min.js"
    ["LICENSE"]="socket.io-client-LICENSE"
)
declare -A SHA256=(
    ["dist/socket.io.esm.min.js"]="771c3872e7d9bf81020615fda67ef0fd2aa61fcaf1990100714a46fa2c39f8a1"
    ["dist/socket.io.min.js"]="d5d79a35039e860b32bdef4795528b05c2f788d4b2d9dacc913120e2878f7b3f"
    ["LICENSE"]="73cb68c437d59e066f9386ef97be57298df4db119fdbd7d7150817c6dbd9f189"
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/web/static/vendor"
check_only=0
if [ "${1:-}" = "--check" ]; then
    check_only=1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# npm pack verifies the tarball against the registry's sha512 integrity before writing it.
(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tarball="$work/$PACKAGE-$VERSION.tgz"
got_integrity="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got_integrity" != "$INTEGRITY" ]; then
    echo "vendor.sh: $PACKAGE-$VERSION.tgz has integrity $got_integrity, expected $INTEGRITY" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"

fetched_version="$(node -p "require('$work/package/package.json').version")"
if [ "$fetched_version" != "$VERSION" ]; then
    echo "vendor.sh: asked for $PACKAGE@$VERSION but the tarball says $fetched_version" >&2
    exit 1
fi

status=0
for src in "${!TARGET[@]}"; do
    got="$(sha256sum "$work/package/$src" | cut -d' ' -f1)"
    if [ "${UPDATE_HASHES:-}" = "1" ]; then
        echo "    [\"$src\"]=\"$got\""
        continue
    fi
    if [ "$got" != "${SHA256[$src]}" ]; then
        echo "vendor.sh: $PACKAGE@$VERSION $src has sha256 $got, expected ${SHA256[$src]}" >&2
        status=1
    fi
done
if [ "${UPDATE_HASHES:-}" = "1" ] || [ "$status" -ne 0 ]; then
    exit "$status"
fi

for src in "${!TARGET[@]}"; do
    if [ "$check_only" -eq 1 ]; then
        if ! cmp -s "$work/package/$src" "$dest/${TARGET[$src]}"; then
            echo "vendor.sh: web/static/vendor/${TARGET[$src]} differs from $PACKAGE@$VERSION $src" >&2
            status=1
        fi
    else
        mkdir -p "$dest"
        install -m 0644 "$work/package/$src" "$dest/${TARGET[$src]}"
    fi
done

if [ "$status" -eq 0 ]; then
    echo "vendor.sh: $PACKAGE@$VERSION verified (${#TARGET[@]} files)"
fi
exit "$status"
