#!/bin/sh
# Install what the OAuth tests need, idempotently: Debian's chromium (never a browser
# download) and the pinned npm packages of this folder (oidc-provider, playwright-core).
set -eu
cd "$(dirname "$0")"

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

# node_modules is stale when the lockfile is newer than npm's own record of the install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
