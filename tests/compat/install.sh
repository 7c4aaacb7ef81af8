#!/bin/sh
# Install the pinned official Descope Node SDK that the compat tests drive, idempotently.
set -eu
cd "$(dirname "$0")"

# node_modules is stale when the lockfile is newer than npm's own record of the install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
