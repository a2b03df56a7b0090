#!/usr/bin/env bash
# The whole journey on one machine, against the mock Bitbucket Cloud:
# builds the binaries, starts mock-bitbucket (a generated workspace), the
# control plane on SQLite in a temporary directory and one delegate, then
# drives everything with idpctl: connector, integration, sync with progress,
# the Discovered list, a register and a merge import, the Imported list and
# the merged entity's YAML with its ingested sections. Everything is shut
# down on exit, also on Ctrl-C or a failed step.
#
# The control plane also serves the web console; its URL and the API key to
# sign in with are printed when it starts. DEMO_STAY=1 keeps everything
# running at the end, until Ctrl-C, to look around in the console.
#
# Needs only Go. Ports can be changed with DEMO_MOCK_PORT, DEMO_CP_PORT and
# DEMO_HTTP_PORT (the console); DEMO_REPOS sets the workspace size;
# DEMO_KEEP=1 keeps the work directory (database and logs) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

mock_port="${DEMO_MOCK_PORT:-18990}"
cp_port="${DEMO_CP_PORT:-17443}"
http_port="${DEMO_HTTP_PORT:-17480}"
repos="${DEMO_REPOS:-300}"
work="$(mktemp -d "${TMPDIR:-/tmp}/idp-demo.XXXXXX")"
bin="$work/bin"
pids=()

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
  local status=$?
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    echo "demo failed (exit $status); logs:" >&2
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$mock_port" "$cp_port" "$http_port"; do
  port_free "$p" || { echo "port $p is in use; set DEMO_MOCK_PORT / DEMO_CP_PORT / DEMO_HTTP_PORT" >&2; exit 1; }
done

# wait_for LOG TEXT: until a process has logged TEXT (it is up), or 60 s.
wait_for() {
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

say "Building the binaries"
mkdir -p "$bin"
run go build -o "$bin/" ./shared/cmd/mock-bitbucket ./controlplane/cmd/controlplane ./controlplane/cmd/idpctl ./delegate/cmd/delegate
export PATH="$bin:$PATH"

say "Starting the mock Bitbucket Cloud ($repos repositories in workspace acme)"
# 10,000 requests an hour per token, as Bitbucket scales a large workspace's
# access tokens; the delegate learns it from X-RateLimit-Limit (its own
# default, 1,000/h, would make the second sync wait for the budget).
mock-bitbucket --listen "127.0.0.1:$mock_port" --workspace acme --repos "$repos" --rate-limit 10000/h \
  --log-format json >"$work/mock.log" 2>&1 &
pids+=($!)
wait_for "$work/mock.log" "/2.0"

say "Bootstrapping an account and starting the control plane on SQLite"
db="sqlite://$work/idp.db"
creds="$(controlplane admin bootstrap --db "$db" --account demo -o json)"
api_key="$(printf '%s' "$creds" | sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p')"
delegate_token="$(printf '%s' "$creds" | sed -n 's/.*"delegate_token": *"\([^"]*\)".*/\1/p')"
[ -n "$api_key" ] && [ -n "$delegate_token" ] || { echo "bootstrap printed no credentials: $creds" >&2; exit 1; }
controlplane serve --db "$db" --listen "127.0.0.1:$cp_port" --http-listen "127.0.0.1:$http_port" \
  --log-format json >"$work/controlplane.log" 2>&1 &
pids+=($!)
wait_for "$work/controlplane.log" "console: "
console_url="$(sed -n 's/.*"url":"\([^"]*\)".*"console: .*/\1/p' "$work/controlplane.log" | head -n 1)"
printf 'Web console: %s (sign in with the API key %s)\n' "$console_url" "$api_key"

say "Starting a delegate (it resolves the Bitbucket token from its own environment and calls only the hosts it allows)"
BITBUCKET_TOKEN=mock-token delegate --control-plane "127.0.0.1:$cp_port" --tls=false \
  --account demo --token "$delegate_token" --name demo-delegate --allowed-api-hosts "127.0.0.1:$mock_port" \
  --log-format json >"$work/delegate.log" 2>&1 &
pids+=($!)
wait_for "$work/delegate.log" "registered"

export IDP_SERVER="127.0.0.1:$cp_port" IDP_API_KEY="$api_key"

say "A catalog entity that already exists (the merge target)"
cat >"$work/shipping.yaml" <<'YAML'
apiVersion: harness.io/v1
kind: Component
type: service
identifier: shipping
name: shipping-service
owner: group:logistics
spec:
  lifecycle: production
metadata:
  description: Ships parcels; owned by the logistics team.
YAML
run idpctl entity create -f "$work/shipping.yaml"

say "Connector and connection test"
run idpctl connector create --name bitbucket-acme --workspace acme \
  --token-ref env:BITBUCKET_TOKEN --api-url "http://127.0.0.1:$mock_port/2.0"
run idpctl connector test bitbucket-acme

say "Integration (confirm and enable: the first sync is queued at once)"
run idpctl integration create --name "Bitbucket acme" --connector bitbucket-acme
run idpctl sync "Bitbucket acme" --wait

say "Discovered repositories (first 10), then those recommended for Merge"
run idpctl discovered list "Bitbucket acme" --page-size 10
run idpctl discovered list "Bitbucket acme" --action merge

say "Import: register audit-api, merge shipping-service into the existing entity"
run idpctl import "Bitbucket acme" audit-api
run idpctl import "Bitbucket acme" shipping-service

say "Imported repositories"
run idpctl imported list "Bitbucket acme"

say "The merged entity, with metadata.integration and integration_properties.BitbucketCloud"
run idpctl entity get shipping -o yaml

say "A second sync: only what changed, plus the backfill of what the per-sync caps left"
run idpctl sync "Bitbucket acme" --wait

say "The merged entity's development activity"
run idpctl entity activity shipping --limit 3

say "Runs and events"
run idpctl runs "Bitbucket acme"
run idpctl events "Bitbucket acme" --page-size 10

if [ "${DEMO_STAY:-0}" = 1 ]; then
  say "Everything keeps running: open $console_url and sign in with $api_key; Ctrl-C ends the demo"
  wait "${pids[0]}"
fi

say "Done; shutting down"
