#!/usr/bin/env bash
# `npm run demo [-- FLAGS]`: install (when node_modules is not usable yet), build,
# and run `raiops demo` with the flags given. It needs only Node.js and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 17) ? 0 : 1)'; then
  echo "raiops needs Node.js 20.17 or newer (this is $(node --version)): install it from https://nodejs.org or your package manager" >&2
  exit 2
fi

# Installed when node_modules is missing, older than package-lock.json, or its SQLite binding does not load.
if ! [ node_modules/.package-lock.json -nt package-lock.json ] ||
  ! node -e 'new (require("better-sqlite3"))(":memory:").close()' 2>/dev/null; then
  # better-sqlite3 compiles SQLite from its C source here (no prebuilt binary is
  # fetched): most of the install's time, on one core. So the packages are
  # unpacked first, then SQLite compiles while the TypeScript builds beside it
  # (oclif.manifest.json is committed). Built for size (-Os, as SQLite's own
  # speed measurements build it) it compiles in about 45 s instead of 110 s at
  # -O3 on two cores; set CFLAGS to choose otherwise, or run `npm ci` yourself.
  echo "+ npm ci" >&2
  npm ci --no-audit --no-fund --ignore-scripts >&2
  echo "+ npm rebuild better-sqlite3 esbuild, and tsc beside it" >&2
  CFLAGS="${CFLAGS:--Os}" npm rebuild better-sqlite3 esbuild >&2 &
  compiling=$!
  rm -rf dist
  built=0
  npx tsc -p tsconfig.build.json >&2 || built=$?
  wait "$compiling"
  [ "$built" -eq 0 ] || exit "$built"
else
  echo "+ npm run build" >&2
  npm run build --silent >&2
fi
exec node bin/run.js demo "$@"
