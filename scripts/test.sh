#!/usr/bin/env bash
# The project's test command: formatting, vet, contract lint and drift, and
# every module's tests with the race detector. Run from anywhere.
#
# The fuzz targets then run for a bounded time each (IDP_FUZZTIME).
#
# PostgreSQL-backed tests run when IDP_TEST_POSTGRES_DSN is set (for example
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable) and skip otherwise.
# The proxy tests run when tinyproxy and squid are installed;
# IDP_REQUIRE_PROXY_TEST=1 turns their absence into a failure (.ci/run sets
# both). The console's browser tests run when Debian's chromium is installed;
# IDP_REQUIRE_BROWSER_TEST=1 turns its absence (or npm's) into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l proto controlplane delegate shared scripts)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet work"
go vet work

step "buf lint and format"
go tool buf lint
go tool buf format -d --exit-code

step "generated code is up to date"
go tool buf generate
if [ -n "$(git status --porcelain -- proto/gen)" ]; then
  echo "proto/gen differs from what scripts/generate.sh produces; run it and commit:"
  git status --porcelain -- proto/gen
  exit 1
fi

step "the console's generated client and built assets are up to date"
if command -v npm >/dev/null 2>&1; then
  bash scripts/console.sh
  if [ -n "$(git status --porcelain -- controlplane/console/src/gen controlplane/console/dist)" ]; then
    echo "controlplane/console/src/gen or dist differs from what scripts/console.sh produces; run it and commit:"
    git status --porcelain -- controlplane/console/src/gen controlplane/console/dist
    exit 1
  fi
elif [ "${IDP_REQUIRE_BROWSER_TEST:-}" = 1 ]; then
  echo "npm is missing: the console cannot be checked (IDP_REQUIRE_BROWSER_TEST=1)"; exit 1
else
  echo "skipped: npm is not installed (the console's build is checked where it is)"
fi

step "docs/cli-reference.md matches every command's --help"
ref="$(mktemp)"
bash scripts/cli-reference.sh "$ref" >/dev/null
if ! diff -u docs/cli-reference.md "$ref"; then
  echo "docs/cli-reference.md is stale; run scripts/cli-reference.sh and commit"; rm -f "$ref"; exit 1
fi
rm -f "$ref"

step "go test -race work"
go test -race -count=1 -timeout 30m "$@" work

# Each fuzz target explores for a bounded time (IDP_FUZZTIME, default
# 10s); a failing input is saved under the package's testdata/fuzz.
fuzz() { go test -run='^$' -fuzz="^$1\$" -fuzztime="${IDP_FUZZTIME:-10s}" "$2"; }
step "fuzz targets, ${IDP_FUZZTIME:-10s} each"
fuzz FuzzParse ./controlplane/internal/catalog
fuzz FuzzPaths ./controlplane/internal/discoverysvc
fuzz FuzzParse ./shared/codeowners
fuzz FuzzImport ./controlplane/internal/backstage
fuzz FuzzDecide ./controlplane/internal/webhook
