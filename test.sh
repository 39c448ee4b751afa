#!/usr/bin/env bash
# Runs Arbor's whole test suite: formatting, vet, staticcheck, and every Go test under
# the race detector, including the end-to-end tests that drive a real `arbor serve` on a
# real redis-server with the official ForgeRock JavaScript SDK and a real Chromium, and the
# RADIUS door driven by FreeRADIUS's radclient.
#
# It installs what it needs on Debian/Ubuntu (redis-server, chromium, node + npm,
# freeradius-utils, nginx, the
# SDK's npm packages) when run as root or with sudo, and otherwise says exactly what is
# missing. Usage: ./test.sh [extra go test flags, e.g. -run TestSDK]
set -euo pipefail
cd "$(dirname "$0")"

# Each step's heading says how long the run has taken so far (bash's SECONDS), so a slow
# CI run shows which step took the time.
say() { printf '\n== %s  (%dm%02ds in)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)  # creates the test Redis Cluster
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-liberation)  # fonts: a recommend, needed for layout tests
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v radclient >/dev/null 2>&1 || missing+=(freeradius-utils)  # radclient: the RADIUS door's tests
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)  # forward-auth's end-to-end test
command -v curl >/dev/null 2>&1 || missing+=(curl)  # the LinOTP and FortiGate doors' e2e tests run the seeds' calls with curl
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "test.sh: missing ${missing[*]}; install them with: apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

say "npm packages (ForgeRock SDK and frodo-cli, pinned by test/sdk/package-lock.json)"
(cd test/sdk && npm ci --no-audit --no-fund --loglevel=error)

say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/sdk/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

say "go vet"
go vet ./...

say "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Decide the mode first, then say the mode actually used.
export CI="${CI:-true}"
if [ "$CI" = true ]; then
  say "go test -race (CI=true: a missing real part fails instead of skipping)"
else
  say "go test -race (CI=$CI: tests whose real part is missing skip; run with CI=true to make them fail)"
fi
# test/e2e is named first so that it builds and starts first: it is the longest package
# (about 6 min, mostly one test after another), and listed in its place it started after
# most others had run. Warm cache, this 2-core machine: 502 s the usual way, 414 s with
# e2e first (`go test -race -count=1 ./...` against `... ./test/e2e ./...`). go test
# runs each package once however often it is named.
go test -race -count=1 -timeout 20m "$@" ./test/e2e ./...

say "test/perf/floor (a module of its own: the least work for a login, the Speed section's floor)"
(cd test/perf/floor && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... && go test -race -count=1 ./...)

say "done"
