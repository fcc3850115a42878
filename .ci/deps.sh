#!/usr/bin/env bash
# deps.sh: install what ckalab's tests need that a fresh Debian bookworm
# machine lacks. Idempotent; needs root for apt-get (skipped when present).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if ((${#need[@]})); then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [[ ! -f "$here/web/node_modules/.installed" || "$here/web/package-lock.json" -nt "$here/web/node_modules/.installed" ]]; then
  echo "deps: installing web packages"
  (cd "$here/web" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed)
fi
echo "deps: ready"
