#!/usr/bin/env bash
# deps.sh: install what ckalab's tests need that a fresh Debian bookworm
# machine lacks. Idempotent; needs root for apt-get (skipped when present).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Docker runs the kind clusters of the integration tests.
if ! docker info >/dev/null 2>&1; then
  if [[ -x "$here/../shared/ci/docker-up.sh" || -f "$here/../shared/ci/docker-up.sh" ]]; then
    bash "$here/../shared/ci/docker-up.sh"
  else
    echo "deps: no Docker engine answers; install and start one (apt-get install docker.io; systemctl start docker), then retry" >&2
    exit 1
  fi
fi

need=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client) # browser-test fixtures
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
# Node images: root filesystems, preloading into containerd, .deb packages.
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v ctr >/dev/null 2>&1 || need+=(containerd)
command -v dpkg-scanpackages >/dev/null 2>&1 || need+=(dpkg-dev)
# Seeding the clusters' registry talks to it over HTTP.
command -v curl >/dev/null 2>&1 || need+=(curl)
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
